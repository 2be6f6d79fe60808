import { workflowIdFor } from '../../workflows/definitions';
import type { TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';
import type { Deliver } from './timer-scenarios';

// Steps the recorded scenarios share.

/** An installation installed through the callback, its workflow `active`. */
export async function activeInstallation(sys: TestSystem, deliver: Deliver): Promise<string> {
  const life = sys.simulator.createInstallation({ licensedUsers: 1 });
  await deliver(life.event);
  await waitForPhase(sys.client, life.installation.id, 'active');
  return life.installation.id;
}

/** An update whose users cannot be read (Talkdesk answering 500 until the faults are cleared), retrying. */
export async function updateRetrying(sys: TestSystem, deliver: Deliver, installationId: string): Promise<void> {
  sys.simulator.failNext('users', 10_000, { status: 500 });
  await deliver(sys.simulator.updateUsers(installationId, { add: 1 }));
  await eventually('the update retrying its change', async () => {
    const v = await queryState(sys.client, installationId);
    return v.phase === 'updating' && /apply the update/.test(v.lastError ?? '') && v.attempts >= 2 ? v : undefined;
  });
}

/**
 * Waits for the installation's workflow to complete, delivers `event`, and waits for the short run
 * that event starts (a run of its own on the finished installation) to complete as well.
 */
export async function deliverToFinished(sys: TestSystem, deliver: Deliver, installationId: string, event: unknown): Promise<void> {
  const handle = sys.client.workflow.getHandle(workflowIdFor(installationId));
  const first = await eventually('the workflow to complete', async () => {
    const d = await handle.describe();
    return d.status.name === 'COMPLETED' ? d.runId : undefined;
  });
  await deliver(event);
  await eventually('the short run to complete', async () => {
    const d = await handle.describe();
    return d.runId !== first && d.status.name === 'COMPLETED' ? true : undefined;
  });
}
