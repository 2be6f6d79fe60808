import type { TestSystem } from './system';
import { eventually, queryState, waitForPhase } from './waits';

/**
 * An active installation whose update's approval lands at Talkdesk but answers after the client's 3 s timeout (retried),
 * then, while every read of Talkdesk fails (until the caller clears the faults), a newer update opened and delivered:
 * queued behind the first. Talkdesk shows `pending`: the newer update's.
 */
export async function newerUpdateBehindLostApproval(sys: TestSystem, deliver: (event: object) => Promise<unknown>) {
  const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 1 });
  const id = installation.id;
  await deliver(event);
  await waitForPhase(sys.client, id, 'active');
  sys.simulator.failNext('installationState', 1, { delayMs: 4_500 });
  await deliver(sys.simulator.updateUsers(id, { add: 1 }));
  await eventually('the first approval landed', async () =>
    sys.simulator.getInstallation(id)?.pendingOperation === null ? true : undefined,
  );
  // The retry's reads fail until the caller says (whatever the machine's speed, the next update is queued first).
  sys.simulator.failNext('installation', 10_000, { status: 500 });
  const next = sys.simulator.updateUsers(id, { add: 1 });
  await deliver(next);
  await eventually('the next update queued behind the first', async () => {
    const v = await queryState(sys.client, id);
    return v.phase === 'updating' && v.pendingEvents.some((e) => e.endsWith(next.id)) ? v : undefined;
  });
  return { id, accountId: event.data.account_id };
}
