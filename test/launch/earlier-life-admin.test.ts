import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { activeInstallation, signIn } from './helpers';

/**
 * A same-id reinstall leaves the earlier life's mappings inactive with their roles. A user whose mapping is inactive
 * is re-licensed at sign-in from Talkdesk's list (the licence refresh): the role is the current installation's, as
 * its provision and updates give it (its installing administrator admin, everyone else a user), never the earlier one's.
 */
describe("launch: an earlier same-id life's administrator signs in as a user", function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: {} });

  it("the refresh gives the role from the account's installing administrator, not the mapping's", async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 3 });
    const account = await sys.store.accounts.findByInstallation(installation.id);
    assert.ok(account);
    const others = licensed.filter((u) => u.id !== account.createdBy);
    const earlierAdmin = others[0];
    assert.ok(earlierAdmin && account.createdBy, 'an installing administrator and another licensed user');
    // As the reinstall leaves them: the earlier life's administrator and this one's, both inactive, admin and user.
    const mappings = sys.store.accounts.users;
    await mappings.updateOne({ _id: `${account._id}:${earlierAdmin.id}` }, { $set: { role: 'admin', active: false } });
    await mappings.updateOne({ _id: `${account._id}:${account.createdBy}` }, { $set: { role: 'user', active: false } });
    await sys.store.accounts.accounts.updateOne(
      { _id: account._id },
      { $pull: { 'licensedUsers.ids': { $in: [earlierAdmin.id, account.createdBy] } } },
    );

    const asEarlierAdmin = await signIn(sys, installation.id, earlierAdmin.id);
    assert.equal(asEarlierAdmin.status, 200, asEarlierAdmin.body.slice(0, 300));
    assert.match(asEarlierAdmin.body, /Standard user/);
    assert.doesNotMatch(asEarlierAdmin.body, /Administrator \(installed the app\)/);
    assert.equal((await mappings.findOne({ _id: `${account._id}:${earlierAdmin.id}` }))?.role, 'user');

    const asInstaller = await signIn(sys, installation.id, account.createdBy);
    assert.equal(asInstaller.status, 200, asInstaller.body.slice(0, 300));
    assert.match(asInstaller.body, /Administrator \(installed the app\)/);
  });
});
