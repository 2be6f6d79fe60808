import assert from 'node:assert/strict';
import { MongoProvisioner, PartnerRefusedError } from '../../src/partner';
import type { CallContext } from '../../src/partner/provisioner';
import { COLLECTIONS } from '../../src/store';
import type { UserMappingRecord } from '../../src/store/account-records';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * One Talkdesk account, two installations at once: an uninstall and a reinstall under a new installation id, both held
 * through an outage and run together by their two workflows. The uninstall's deprovision (the built-in provisioner's)
 * must not disable the reinstall's account or deactivate the users it wrote. FerretDB, the store as the provisioner writes it.
 */
describe("an installation's deprovision leaves alone what another installation of its account wrote meanwhile", function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  const provision = async (accountId: string, installationId: string, users: string[]) => {
    await h.store.accounts.upsertAccount({ accountId, appId: 'app1', name: 'Acme', installationId, provisionKey: `k-${installationId}` });
    await h.store.accounts.upsertUsers(
      accountId,
      installationId,
      users.map((id) => ({ id })),
    );
  };
  const mappings = (accountId: string) => h.store.accounts.listUsers(accountId);

  it('the account taken over by the reinstall before the deprovision writes: nothing changes', async () => {
    const accountId = `acct-take-${Date.now()}`;
    await provision(accountId, 'inst-old', ['u1', 'u2']);
    await provision(accountId, 'inst-new', ['u2', 'u3']);
    await h.store.accounts.deprovisionInstallation(accountId, 'inst-old');
    const account = await h.store.accounts.getAccount(accountId);
    assert.equal(account?.status, 'provisioned', "the reinstall's account is not disabled");
    assert.deepEqual([...(account?.licensedUsers?.ids ?? [])].sort(), ['u2', 'u3']);
    const active = (await mappings(accountId)).filter((u) => u.active).map((u) => u.talkdeskUserId);
    assert.deepEqual(active.sort(), ['u2', 'u3']);
  });

  it("an earlier installation's provision retried after the reinstall provisioned the account is refused, and its undo changes nothing", async () => {
    const accountId = `acct-late-${Date.now()}`;
    const mongo = new MongoProvisioner(h.store);
    const ctx = (key: string, occurredAt: string, undoes?: string): CallContext => ({
      key,
      occurredAt,
      signal: new AbortController().signal,
      ...(undoes ? { undoes } : {}),
    });
    const account = (installationId: string) => ({ accountId, installationId, appId: 'app1', name: 'Acme' });
    const users = (...ids: string[]) => ids.map((id) => ({ id, role: 'user' as const }));
    const older = '2026-12-01T10:00:00.000Z';
    const newer = '2026-12-01T11:00:00.000Z';
    // Control: a newer installation takes over an account the earlier one still holds (its uninstall not applied yet).
    await mongo.provision({ account: account('inst-first'), users: users('u0') }, ctx('k-first', '2026-12-01T09:00:00.000Z'));
    await mongo.provision({ account: account('inst-new'), users: users('u2', 'u3') }, ctx('k-new', newer));
    assert.equal((await h.store.accounts.getAccount(accountId))?.installationId, 'inst-new');
    await assert.rejects(
      mongo.provision({ account: account('inst-old'), users: users('u1', 'u2') }, ctx('k-old', older)),
      (err: Error) => err instanceof PartnerRefusedError && /provisioned by a newer installation/.test(err.message),
    );
    await mongo.undoProvision({ accountId, installationId: 'inst-old' }, ctx('k-undo', older, 'k-old'));
    const after = await h.store.accounts.getAccount(accountId);
    assert.deepEqual([after?.installationId, after?.status], ['inst-new', 'provisioned'], "the reinstall's account is kept");
    assert.deepEqual([...(after?.licensedUsers?.ids ?? [])].sort(), ['u2', 'u3']);
    const active = (await mappings(accountId)).filter((u) => u.active).map((u) => u.talkdeskUserId);
    assert.deepEqual(active.sort(), ['u2', 'u3']);
  });

  it("mid-deprovision: a mapping the reinstall wrote since stays active; the uninstalled installation's own are deactivated", async () => {
    const accountId = `acct-mid-${Date.now()}`;
    await provision(accountId, 'inst-old', ['u1', 'u2', 'u3']);
    // The reinstall's write of u2 landed between the deprovision's reads (its account write not yet).
    const users = h.store.db.collection<UserMappingRecord>(COLLECTIONS.userMappings);
    await users.updateOne({ _id: `${accountId}:u2` }, { $set: { installationId: 'inst-new', active: true } });
    await h.store.accounts.deprovisionInstallation(accountId, 'inst-old');
    const byUser = new Map((await mappings(accountId)).map((u) => [u.talkdeskUserId, u.active]));
    assert.deepEqual(Object.fromEntries(byUser), { u1: false, u2: true, u3: false });
    assert.equal((await h.store.accounts.getAccount(accountId))?.status, 'disabled');
  });
});
