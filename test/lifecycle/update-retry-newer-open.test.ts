import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';

/**
 * An update's approval lands at Talkdesk but its answer is lost (client timeout); before its retry, Talkdesk opens a
 * newer update and delivers it. Talkdesk shows `pending` again: the newer update's, which the retry must not approve
 * in its place (its users not yet applied). The retry sends nothing; the newer update's own phase approves it.
 */
describe("an update's retried approval with a newer update delivered meanwhile (dev server, FerretDB, simulator)", function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));
  const deliver = async (event: object) =>
    assert.equal(await sys.simulator.deliver(event as never, { callbackUrl: sys.web.callbackUrl }), 200);

  it('the retry reads pending and sends nothing; each update is concluded by its own approval, none answered 409', async () => {
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
    // Its retry's reads of Talkdesk fail until the next update is queued here (whatever the machine's speed).
    sys.simulator.failNext('installation', 10_000, { status: 500 });
    // Talkdesk opens the next update at once, and delivers it while the first one's approval waits for its answer.
    const next = sys.simulator.updateUsers(id, { add: 1 });
    await deliver(next);
    await eventually('the next update queued behind the first', async () => {
      const v = await queryState(sys.client, id);
      return v.phase === 'updating' && v.pendingEvents.some((e) => e.endsWith(next.id)) ? v : undefined;
    });
    sys.simulator.clearFaults();
    const view = await eventually('both updates applied', async () => {
      const v = await queryState(sys.client, id);
      return v.phase === 'active' && v.appliedEvents === 3 ? v : undefined;
    });
    assert.deepEqual(
      view.history.map((h) => [h.phase, h.result]),
      [
        ['installing', 'approved'],
        ['updating', 'approved'],
        ['updating', 'approved'],
      ],
    );
    const calls = sys.simulator.stateCalls(id);
    // The first update's answer was dropped with the client's timeout (status 0): it concluded its update all the same.
    assert.deepEqual(
      calls.map((c) => c.concluded),
      ['install', 'update', 'update'],
      `three approvals, each concluding its own operation: the retry sent none (${JSON.stringify(calls.map((c) => c.status))})`,
    );
    assert.equal(calls.at(-1)?.status, 200);
    const reads = sys.simulator.calls.filter((c) => c.route === 'installation' && c.installationId === id && c.at > calls[1]!.at);
    assert.ok(reads.length >= 1, "the retry read Talkdesk's state first");
    assert.equal((await sys.store.accounts.listUsers(event.data.account_id)).filter((u) => u.active).length, 3);
  });
});
