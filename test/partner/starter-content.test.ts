import assert from 'node:assert/strict';
import { STARTER_CHECKLIST, STARTER_DASHBOARDS } from '../../src/store/starter-content';
import { useSystem, type TestSystem } from '../support/system';
import { finalView, waitForPhase } from '../support/waits';

describe('built-in provisioner: starter content and the installing admin (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  const deliver = async (event: Parameters<TestSystem['simulator']['deliver']>[0]) =>
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);

  it('creates starter content at install, keeps it on uninstall and restores it (not a copy) on reinstall', async () => {
    const first = sys.simulator.createInstallation({ licensedUsers: 3 });
    await deliver(first.event);
    await waitForPhase(sys.client, first.installation.id, 'active');
    const accountId = first.event.data.account_id;

    const created = await sys.store.starterContent.get(accountId);
    assert.ok(created, 'starter content exists once the install is approved');
    assert.equal(created.installationId, first.installation.id);
    assert.deepEqual(created.dashboards, STARTER_DASHBOARDS);
    assert.deepEqual(created.checklist, STARTER_CHECKLIST);

    // The installing administrator (created_by at Talkdesk) is the account's admin; the others are users.
    const account = await sys.store.accounts.getAccount(accountId);
    assert.equal(account?.createdBy, first.installation.createdBy);
    const users = await sys.store.accounts.listUsers(accountId);
    assert.equal(users.length, 3);
    assert.deepEqual(
      users.filter((u) => u.role === 'admin').map((u) => u.talkdeskUserId),
      [first.installation.createdBy],
    );
    assert.equal(users.filter((u) => u.role === 'user').length, 2);

    await sys.store.starterContent.markDone(accountId, 'open-sample-dashboard');
    await deliver(sys.simulator.uninstall(first.installation.id));
    assert.equal((await finalView(sys.client, first.installation.id)).phase, 'uninstalled');
    assert.ok(await sys.store.starterContent.get(accountId), 'kept on uninstall');

    const second = sys.simulator.createInstallation({ accountName: first.event.data.account_name, licensedUsers: 3 });
    assert.equal(second.event.data.account_id, accountId, 'a reinstall into the same account');
    await deliver(second.event);
    const view = await waitForPhase(sys.client, second.installation.id, 'active');
    assert.equal(view.settingsRestored, true);
    const docs = await sys.store.starterContent.coll.find({ accountId }).toArray();
    assert.equal(docs.length, 1, 'restored, not duplicated');
    assert.equal(docs[0]?.installationId, second.installation.id);
    assert.equal(docs[0]?.createdAt.getTime(), created.createdAt.getTime());
    assert.equal(docs[0]?.dashboards.length, STARTER_DASHBOARDS.length);
    assert.equal(docs[0]?.checklist.find((c) => c.id === 'open-sample-dashboard')?.done, true, "the checklist's progress survives");
  });
});
