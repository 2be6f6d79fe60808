import assert from 'node:assert/strict';
import { MongoProvisioner } from '../../src/partner/mongodb';
import { COLLECTIONS } from '../../src/store';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * The installing admin (Talkdesk's `created_by`) is one installation's: a reinstall into the same account
 * whose `created_by` cannot be read (null, or the read refused) must not keep the earlier one's admin,
 * whom its updates would then add as `admin`. FerretDB, the store as the built-in provisioner writes it.
 */
describe("an account's admin does not outlive its installation", function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  it('a reinstall that names no admin clears the earlier one; a retry of the same install keeps its own', async () => {
    const accounts = h.store.accounts;
    const account = { accountId: `acct-${Date.now()}`, appId: 'app1', name: 'Acme' };
    await accounts.upsertAccount({ ...account, installationId: 'inst-a', createdBy: 'alice', provisionKey: 'k-a' });
    await accounts.upsertAccount({ ...account, installationId: 'inst-a', provisionKey: 'k-a' });
    assert.equal((await accounts.getAccount(account.accountId))?.createdBy, 'alice', 'the same install, retried');
    await accounts.disableAccount(account.accountId);
    await accounts.upsertAccount({ ...account, installationId: 'inst-b', provisionKey: 'k-b' });
    assert.equal((await accounts.getAccount(account.accountId))?.createdBy, undefined);
    await accounts.upsertAccount({ ...account, installationId: 'inst-c', createdBy: 'bob', provisionKey: 'k-c' });
    assert.equal((await accounts.getAccount(account.accountId))?.createdBy, 'bob');
  });

  it("a reinstall's provision that returns no partner account id does not keep the earlier installation's; a retry keeps its own", async () => {
    const accounts = h.store.accounts;
    const account = { accountId: `acct-pa-${Date.now()}`, appId: 'app1', name: 'Acme' };
    const partnerAccount = async () => (await accounts.getAccount(account.accountId))?.partnerAccountId;
    await accounts.upsertAccount({ ...account, installationId: 'inst-a', provisionKey: 'k-a' });
    await accounts.recordPartnerAccountId(account.accountId, 'pa_1');
    await accounts.upsertAccount({ ...account, installationId: 'inst-a', provisionKey: 'k-a' });
    assert.equal(await partnerAccount(), 'pa_1', 'the same install, retried');
    await accounts.disableAccount(account.accountId);
    await accounts.upsertAccount({ ...account, installationId: 'inst-b', provisionKey: 'k-b' });
    assert.equal(await partnerAccount(), undefined, "not the earlier installation's tenant");
  });

  it("a sign-in's licence refresh after a reinstall makes the earlier installation's admin a user; the same installation's admin stays admin", async () => {
    const accounts = h.store.accounts;
    const accountId = `acct-role-${Date.now()}`;
    const role = async (id: string) => (await accounts.listUsers(accountId)).find((u) => u.talkdeskUserId === id)?.role;
    await accounts.upsertAccount({ accountId, appId: 'app1', name: 'Acme', installationId: 'inst-1', createdBy: 'x', provisionKey: 'k-1' });
    await accounts.upsertUsers(accountId, 'inst-1', [{ id: 'x', role: 'admin' }]);
    await accounts.disableAccount(accountId);
    await accounts.deactivateUsers(accountId);
    // Reinstalled by y; x is licensed later and signs in before (or without) the update that adds them.
    await accounts.upsertAccount({ accountId, appId: 'app1', name: 'Acme', installationId: 'inst-2', createdBy: 'y', provisionKey: 'k-2' });
    await accounts.upsertUsers(accountId, 'inst-2', [{ id: 'y', role: 'admin' }]);
    await accounts.upsertUsers(accountId, 'inst-2', [{ id: 'x' }], new Date(Date.now() + 1_000));
    assert.equal(await role('x'), 'user', "inst-1's admin is a user of inst-2");
    // The refresh re-licensing inst-2's own admin keeps the role.
    await accounts.upsertUsers(accountId, 'inst-2', [{ id: 'y' }], new Date(Date.now() + 2_000));
    assert.equal(await role('y'), 'admin');
  });

  it("a reinstall under a new id over an account still provisioned (the earlier installation's deprovision not applied yet) starts its users afresh", async () => {
    const accounts = h.store.accounts;
    const accountId = `acct-new-id-${Date.now()}`;
    await accounts.upsertAccount({ accountId, appId: 'app1', name: 'Acme', installationId: 'inst-old', provisionKey: 'k-old' });
    await accounts.upsertUsers(accountId, 'inst-old', [{ id: 'u-old' }, { id: 'u-both' }]);
    // The new installation's provision lands first; the old one's deprovision, later, finds the account not its own.
    await accounts.upsertAccount({ accountId, appId: 'app1', name: 'Acme', installationId: 'inst-new', provisionKey: 'k-new' });
    await accounts.upsertUsers(accountId, 'inst-new', [{ id: 'u-both' }, { id: 'u-new' }]);
    const active = (await accounts.listUsers(accountId)).filter((u) => u.active).map((u) => u.talkdeskUserId);
    assert.deepEqual(active.sort(), ['u-both', 'u-new'], "the earlier installation's users are not left active");
  });

  it('undoing a first install whose provision died between its settings and its account removes those settings (no "settings restored" next)', async () => {
    const accounts = h.store.accounts;
    const accountId = `acct-half-${Date.now()}`;
    const now = new Date();
    // What the provision wrote before it died: its settings, marked with its key; no account.
    await h.db.collection<{ _id: string }>(COLLECTIONS.settings).insertOne({
      _id: accountId,
      settings: { locale: 'en' },
      createdAt: now,
      updatedAt: now,
      createdByProvision: 'k-half',
    } as never);
    const ctx = { key: 'k-undo', undoes: 'k-half', occurredAt: now.toISOString(), signal: new AbortController().signal };
    await new MongoProvisioner(h.store).undoProvision({ installationId: 'inst-half', accountId }, ctx);
    assert.equal(await accounts.getSettings(accountId), null, 'the settings that provision created are gone');
    const next = await accounts.upsertAccount({
      accountId,
      appId: 'app1',
      name: 'Acme',
      installationId: 'inst-next',
      provisionKey: 'k-next',
    });
    assert.equal(next.settingsRestored, false);
  });

  it("a same-id reinstall over an account still provisioned (its earlier life's uninstall never applied) starts its licensed users afresh", async () => {
    const accounts = h.store.accounts;
    const account = { accountId: `acct-live-${Date.now()}`, appId: 'app1', name: 'Acme', installationId: 'inst-same' };
    await accounts.upsertAccount({ ...account, provisionKey: 'k-life-1' });
    await accounts.upsertUsers(account.accountId, account.installationId, [{ id: 'u-old' }, { id: 'u-both' }]);
    // A retry of that provision keeps them.
    await accounts.upsertAccount({ ...account, provisionKey: 'k-life-1' });
    assert.deepEqual((await accounts.getAccount(account.accountId))?.licensedUsers?.ids.sort(), ['u-both', 'u-old']);
    // The reinstall's provision (another install event's key) with Talkdesk's list for the new life.
    await accounts.upsertAccount({ ...account, provisionKey: 'k-life-2' });
    await accounts.upsertUsers(account.accountId, account.installationId, [{ id: 'u-both' }, { id: 'u-new' }]);
    assert.deepEqual((await accounts.getAccount(account.accountId))?.licensedUsers?.ids.sort(), ['u-both', 'u-new']);
    const active = (await accounts.listUsers(account.accountId)).filter((u) => u.active).map((u) => u.talkdeskUserId);
    assert.deepEqual(active.sort(), ['u-both', 'u-new'], "before: the earlier life's user kept licensed (sessions, sign-ins)");
  });
});
