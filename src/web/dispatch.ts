import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { eventSignal, workflowIdFor, type LifecycleEvent } from '../../workflows/definitions';
import type { InstallationOptions } from '../../workflows/options';
import { installationWorkflow } from '../../workflows/installation';
import type { InstallationStore } from '../store/installations';

export type Dispatch = (event: LifecycleEvent) => Promise<void>;

/**
 * Hands an event to its installation's workflow with signal-with-start: the first
 * event starts it, later ones signal it, and an event for a completed installation
 * starts a new run. The workflow ignores a repeated event id, so dispatching an
 * event twice has the effect of dispatching it once.
 */
export function createDispatch(
  client: Client,
  taskQueue: string,
  options: { timeoutMs: number; workflowOptions?: Partial<InstallationOptions> },
): Dispatch {
  return async (event) => {
    const deadline = Date.now() + options.timeoutMs;
    await client.connection.withDeadline(deadline, () =>
      client.workflow.signalWithStart(installationWorkflow, {
        workflowId: workflowIdFor(event.installationId),
        taskQueue,
        args: [{ installationId: event.installationId, options: options.workflowOptions }],
        signal: eventSignal,
        signalArgs: [event],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        staticSummary: `Talkdesk installation ${event.installationId}${event.accountName ? ` (${event.accountName})` : ''}`,
        staticDetails: `Lifecycle of app ${event.appId} in Talkdesk account ${event.accountId ?? 'unknown'}: install, updates, credential rotations, trial and uninstall.`,
      }),
    );
  };
}

/**
 * For hand-overs that may repeat one already made (the dispatcher after a failed
 * `markDispatched`, a redelivered event not marked yet): an event the installation's
 * workflow already finished is not handed over again. Once that workflow has
 * completed, signal-with-start would open a new run holding nothing but the repeat.
 * Which events are finished is read from the installation's record, which the
 * workflow writes before it completes.
 */
export function skipHandled(dispatch: Dispatch, installations: Pick<InstallationStore, 'get'>): Dispatch {
  return async (event) => {
    const record = await installations.get(event.installationId);
    if (record?.handledEventIds?.includes(event.eventId)) return;
    await dispatch(event);
  };
}
