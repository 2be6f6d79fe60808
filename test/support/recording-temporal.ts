import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { InstallationView, LifecycleEvent } from '../../workflows/definitions';

/** What reconciliation asked of Temporal: events handed over, runs started without one, signals. */
export interface Asked {
  handedOver: LifecycleEvent[];
  started: string[];
  signals: unknown[];
  /** State queries asked. */
  queries: number;
  /** The input of each run started without an event. */
  startInputs: unknown[];
}

/**
 * A Temporal client that answers `describe` (running, or no workflow) and the state query as told, and records the
 * rest: what reconciliation decides for one record, without a server or a worker running it.
 */
export function recordingTemporal(
  running: boolean,
  view?: InstallationView,
  /** Thrown by every signal: Temporal refusing or out of reach. */
  signalFails?: Error,
  /** `start` refused: an event's hand-over started the workflow after it was found not running. */
  startedMeanwhile = false,
  /** Hand-overs (signal-with-start) after this many fail: Temporal stopped answering mid-way. */
  handOversThatSucceed = Infinity,
  /** `start` lands, then its answer is lost (the call fails as a deadline would). */
  startAnswerLost = false,
  /** Not running for this many describes, running after: an event's hand-over started it between two of them. */
  startsAfterDescribes = Infinity,
): { temporal: { client: Client; taskQueue: string }; asked: Asked } {
  let describes = 0;
  const asked: Asked = { handedOver: [], started: [], signals: [], queries: 0, startInputs: [] };
  const client = {
    connection: { withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn() },
    workflow: {
      getHandle: (workflowId: string) => ({
        describe: async () => {
          describes += 1;
          if (!running && describes <= startsAfterDescribes) throw new WorkflowNotFoundError('workflow not found', workflowId, undefined);
          return { status: { name: 'RUNNING' } };
        },
        signal: async (_signal: unknown, arg: unknown) => {
          if (signalFails) throw signalFails;
          asked.signals.push(arg);
        },
        // The state query: answered with `view` when given, else as a workflow whose worker does not answer.
        query: async () => {
          asked.queries += 1;
          if (!view) throw new Error('query timed out: no worker answered');
          return view;
        },
      }),
      signalWithStart: async (_workflow: unknown, opts: { signalArgs: [LifecycleEvent] }) => {
        if (asked.handedOver.length >= handOversThatSucceed) throw new Error('Temporal did not answer the hand-over (test)');
        asked.handedOver.push(opts.signalArgs[0]);
      },
      start: async (_workflow: unknown, opts: { workflowId: string; args?: unknown[] }) => {
        if (startedMeanwhile)
          throw new WorkflowExecutionAlreadyStartedError('workflow already started', opts.workflowId, 'installationWorkflow');
        asked.started.push(opts.workflowId);
        asked.startInputs.push(opts.args?.[0]);
        if (startAnswerLost) throw Object.assign(new Error('deadline exceeded (test): the start landed'), { name: 'ServiceError' });
      },
    },
  };
  return { temporal: { client: client as unknown as Client, taskQueue: 'recording' }, asked };
}
