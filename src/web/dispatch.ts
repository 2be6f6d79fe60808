import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { eventSignal, workflowIdFor, type LifecycleEvent } from '../../workflows/definitions';
import type { InstallationOptions } from '../../workflows/options';
import { installationWorkflow } from '../../workflows/installation';

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
