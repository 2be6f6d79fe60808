import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { newerUpdateBehindLostApproval } from '../support/lost-approval';
import { eventually, queryState } from '../support/waits';

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
    const { id, accountId } = await newerUpdateBehindLostApproval(sys, deliver);
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
    assert.equal((await sys.store.accounts.listUsers(accountId)).filter((u) => u.active).length, 3);
  });
});
