import assert from 'node:assert/strict';
import { rejectUpdateBehindNewer } from '../support/operator';
import { useSystem, type TestSystem } from '../support/system';

/**
 * An update's approval lands at Talkdesk but its answer is lost; Talkdesk opens a newer update and delivers it; then an
 * operator rejects the first update. Talkdesk shows `pending`: the newer update's. The reject must not send its
 * rejection (it would conclude the newer update), and the first update, which Talkdesk approved, is kept.
 */
describe("an operator's reject of an update whose approval landed, a newer update delivered meanwhile (dev server, FerretDB, simulator)", function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));
  const deliver = async (event: object) =>
    assert.equal(await sys.simulator.deliver(event as never, { callbackUrl: sys.web.callbackUrl }), 200);

  it('sends no rejection, keeps the approved update, and the newer update is approved by its own phase', async () => {
    const { id, accountId, view } = await rejectUpdateBehindNewer(sys, deliver);
    assert.deepEqual(
      view.history.map((h) => [h.phase, h.result]),
      [
        ['installing', 'approved'],
        ['updating', 'interrupted'],
        ['active', 'not-open'],
        ['updating', 'approved'],
      ],
      JSON.stringify(view.history),
    );
    assert.match(view.history[2]?.detail ?? '', /a newer operation, opened once the update was approved/);
    const calls = sys.simulator.stateCalls(id);
    assert.deepEqual(
      calls.map((c) => c.concluded),
      ['install', 'update', 'update'],
      `no rejection sent: each approval concluded its own update (${JSON.stringify(calls.map((c) => [c.status, c.body]))})`,
    );
    assert.equal(sys.simulator.getInstallation(id)?.state, 'completed');
    // The first update kept (its user), the newer one applied on top: three licensed users.
    assert.equal((await sys.store.accounts.listUsers(accountId)).filter((u) => u.active).length, 3);
  });
});
