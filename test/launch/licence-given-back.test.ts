import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';
import { activeInstallation, signIn } from './helpers';

/**
 * A user whose licence Talkdesk removed and then gave back, through the documented `app.updated` events (the second
 * names a user the service already holds, inactive): the update reactivates the mapping, and the user signs in.
 */
describe('launch: a licence removed, then given back by a later app.updated', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: {} });

  it('refused once removed; the update giving it back reactivates the mapping, and the user signs in', async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const [, c] = licensed;
    assert.ok(c);
    const accountId = (await sys.store.accounts.findByInstallation(installation.id))?._id;
    assert.ok(accountId);
    const mapping = async () => (await sys.store.accounts.users.findOne({ _id: `${accountId}:${c.id}` }))?.active;
    const applied = async (event: Parameters<typeof sys.simulator.deliver>[0]) => {
      const before = (await waitForPhase(sys.client, installation.id, 'active')).appliedEvents;
      assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
      await eventually('the update applied', async () => {
        const view = await waitForPhase(sys.client, installation.id, 'active');
        return view.appliedEvents > before ? true : undefined;
      });
    };

    await applied(sys.simulator.updateUsers(installation.id, { remove: [c.id] }));
    assert.equal(await mapping(), false);
    const refused = await signIn(sys, installation.id, c.id);
    assert.equal(refused.status, 403, refused.body.slice(0, 300));

    const back = sys.simulator.updateUsers(installation.id, { add: [c.id] });
    assert.deepEqual(back.data.users?.adding, [c.id]);
    await applied(back);
    assert.equal(await mapping(), true, 'the mapping the service held, reactivated');
    const account = await sys.store.accounts.getAccount(accountId);
    assert.ok(account?.licensedUsers?.ids.includes(c.id), "in the account's licensed list");
    const signedIn = await signIn(sys, installation.id, c.id);
    assert.equal(signedIn.status, 200, signedIn.body.slice(0, 300));
  });
});
