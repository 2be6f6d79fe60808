import { rejectUpdate, workflowIdFor } from '../../workflows/definitions';
import type { TestSystem } from './system';
import { newerUpdateBehindLostApproval } from './lost-approval';
import { eventually, queryState } from './waits';

/**
 * An operator's reject of an update whose approval Talkdesk keeps failing (a `failNext` on
 * `installationState`). Talkdesk stays down until the rejection is tried: cleared before the
 * reject, the update's next attempt could be approved first (and the workflow would rightly keep
 * it). A state call waits for its cancellation, so once the rejection is tried no approval
 * attempt is left to land; the faults are then cleared and the rejection's retry goes through.
 */
export async function rejectFailingUpdate(sys: TestSystem, id: string, reason: string): Promise<void> {
  await sys.client.workflow.getHandle(workflowIdFor(id)).executeUpdate(rejectUpdate, { args: [{ reason }] });
  await eventually('the rejection tried at Talkdesk', async () =>
    sys.simulator.stateCalls(id).find((c) => (c.body as { state?: string }).state === 'reject'),
  );
  sys.simulator.clearFaults();
}

/**
 * An update's approval lands at Talkdesk but its answer is lost (the client's timeout); Talkdesk opens a newer update and
 * delivers it (queued behind the first, whose retry's reads of Talkdesk fail meanwhile); then an operator rejects the
 * first update, and Talkdesk answers again. Returns once both updates have ended (three events applied).
 */
export async function rejectUpdateBehindNewer(sys: TestSystem, deliver: (event: object) => Promise<unknown>) {
  const { id, accountId } = await newerUpdateBehindLostApproval(sys, deliver);
  const rejected = sys.client.workflow.getHandle(workflowIdFor(id)).executeUpdate(rejectUpdate, { args: [{ reason: 'wrong plan' }] });
  await eventually('the reject to stop the update', async () => {
    const v = await queryState(sys.client, id);
    return v.history.some((h) => h.phase === 'updating' && h.result === 'interrupted') ? v : undefined;
  });
  sys.simulator.clearFaults();
  await rejected;
  const view = await eventually('both updates ended', async () => {
    const v = await queryState(sys.client, id);
    return v.phase === 'active' && v.appliedEvents === 3 ? v : undefined;
  });
  return { id, accountId, view };
}
