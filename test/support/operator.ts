import { rejectUpdate, workflowIdFor } from '../../workflows/definitions';
import type { TestSystem } from './system';
import { eventually, queryState, waitForPhase } from './waits';

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
  const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 1 });
  const id = installation.id;
  await deliver(event);
  await waitForPhase(sys.client, id, 'active');
  // The first update's approval takes effect at once but answers after the client's 3 s timeout: retried.
  sys.simulator.failNext('installationState', 1, { delayMs: 4_500 });
  await deliver(sys.simulator.updateUsers(id, { add: 1 }));
  await eventually('the first approval landed', async () =>
    sys.simulator.getInstallation(id)?.pendingOperation === null ? true : undefined,
  );
  // Every read of Talkdesk fails until the reject is under way: the retry and the reject wait on them.
  sys.simulator.failNext('installation', 10_000, { status: 500 });
  const next = sys.simulator.updateUsers(id, { add: 1 });
  await deliver(next);
  await eventually('the next update queued behind the first', async () => {
    const v = await queryState(sys.client, id);
    return v.phase === 'updating' && v.pendingEvents.some((e) => e.endsWith(next.id)) ? v : undefined;
  });
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
  return { id, accountId: event.data.account_id, view };
}
