import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { eventSignal, workflowIdFor, type LifecycleEvent } from '../../workflows/definitions';
import { withDefaults, type InstallationOptions } from '../../workflows/options';
import { installationWorkflow } from '../../workflows/installation';

/** Hands one event to its installation's workflow; throws when Temporal did not take it. */
export type Dispatch = (event: LifecycleEvent) => Promise<void>;

/** Where installation workflows run: the same for the web process and reconciliation. */
export interface InstallationTarget {
  client: Client;
  taskQueue: string;
  workflowOptions?: Partial<InstallationOptions>;
}

/**
 * How long one hand-over may wait for Temporal. The callback answers Talkdesk within
 * its own deadline, so it gives up early (the dispatcher tries again); reconciliation
 * runs in an activity and can wait longer.
 */
export const HAND_OVER_TIMEOUT_MS = { callback: 3_000, reconciliation: 10_000 } as const;

/**
 * The one way an event reaches its workflow: signal-with-start. The first event starts
 * the workflow, later ones signal it, and an event for a completed installation starts
 * a new run. The workflow ignores a repeated event id, so handing an event over twice
 * has the effect of handing it over once.
 */
export async function startInstallation(target: InstallationTarget, event: LifecycleEvent, timeoutMs: number): Promise<void> {
  const { client, taskQueue, workflowOptions } = target;
  await client.connection.withDeadline(Date.now() + timeoutMs, () =>
    client.workflow.signalWithStart(installationWorkflow, {
      workflowId: workflowIdFor(event.installationId),
      taskQueue,
      // Every tunable resolved here, once: the run keeps them whatever a later default says.
      args: [{ installationId: event.installationId, options: withDefaults(workflowOptions) }],
      signal: eventSignal,
      signalArgs: [event],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      staticSummary: `Talkdesk installation ${event.installationId}${event.accountName ? ` (${event.accountName})` : ''}`,
      staticDetails: `Lifecycle of app ${event.appId} in Talkdesk account ${event.accountId ?? 'unknown'}: install, updates, credential rotations, trial and uninstall.`,
    }),
  );
}

/** `startInstallation` as a `Dispatch` with a fixed timeout. */
export function createDispatch(target: InstallationTarget, timeoutMs: number): Dispatch {
  return (event) => startInstallation(target, event, timeoutMs);
}

/**
 * Starts an installation's workflow again without an event, from its stored state
 * (reconciliation, when no unfinished phase has an event to hand over).
 */
export async function resumeInstallation(target: InstallationTarget, installationId: string, accountName?: string): Promise<void> {
  await target.client.workflow.start(installationWorkflow, {
    workflowId: workflowIdFor(installationId),
    taskQueue: target.taskQueue,
    args: [{ installationId, options: withDefaults(target.workflowOptions), resumedByReconciliation: true }],
    staticSummary: `Talkdesk installation ${installationId}${accountName ? ` (${accountName})` : ''} (resumed by reconciliation)`,
  });
}
