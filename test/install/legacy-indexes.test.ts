import assert from 'node:assert/strict';
import { COLLECTIONS } from '../../src/store';
import { MARKERS } from '../../src/store/markers';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * Documents an older version stored have no `credential_sets` or `account_users` index:
 * the lifecycle still finds every credential set and user mapping of such an installation,
 * an import or a user change completes the index from one read by installation or account,
 * and the start-up indexing (`Store.prepare`) indexes every stored set once (FerretDB,
 * simulator, activities in-process).
 */
describe('credential and user indexes: documents an older version stored', function () {
  this.timeout(120_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness({ prepare: false })));
  after(() => h?.close());

  /** An installed installation, then its indexes removed: what an older version left. */
  async function legacyInstallation() {
    const { installation, event } = h.simulator.createInstallation({ licensedUsers: 3 });
    await h.storeEvent(event);
    const creds = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });
    const ref = { installationId: installation.id, appId: h.simulator.appId, clientId: creds.clientId, rootUrl: event._links.root.href };
    const prov = await h.run(h.acts.provisionAccount, { ...ref, accountName: installation.accountName, eventId: event.id });
    await h.db.collection(COLLECTIONS.credentialSets).deleteOne({ _id: installation.id as never });
    await h.db.collection(COLLECTIONS.accountUsers).deleteOne({ _id: prov.accountId as never });
    await h.db.collection(COLLECTIONS.storeMarkers).deleteOne({ _id: MARKERS.credentialSets as never });
    return { id: installation.id, ref, accountId: prov.accountId, clientId: creds.clientId };
  }

  it('rotation, update and uninstall of an older version’s installation reach its earlier set and users', async () => {
    const old = await legacyInstallation();
    assert.equal((await h.store.credentials.list(old.id)).length, 1, 'found by installation while not indexed');
    assert.equal((await h.store.accounts.listUsers(old.accountId)).length, 3, 'found by account while not indexed');

    // Rotation: the import indexes the earlier set with the new one.
    const rotated = h.simulator.rotateCredentials(old.id);
    await h.storeEvent(rotated);
    const next = await h.run(h.acts.importCredentials, { installationId: old.id, eventId: rotated.id, activate: false });
    const index = await h.db.collection<{ clientIds: string[] }>(COLLECTIONS.credentialSets).findOne({ _id: old.id as never });
    assert.deepEqual(index?.clientIds.slice().sort(), [old.clientId, next.clientId].sort());
    await h.run(h.acts.obtainToken, { installationId: old.id, clientId: next.clientId });
    await h.run(h.acts.switchCredentials, {
      installationId: old.id,
      clientId: next.clientId,
      previousClientId: old.clientId,
      retireAt: new Date(Date.now() + 86_400_000).toISOString(),
      destroyPreviousNow: false,
    });

    // Update: one user added; the account's index gets the earlier users too.
    const updated = h.simulator.updateUsers(old.id, { add: 1 });
    const adding = (updated.data as { users?: { adding: string[] } }).users?.adding ?? [];
    await h.run(h.acts.applyUpdate, {
      ...old.ref,
      clientId: next.clientId,
      accountId: old.accountId,
      usersAdding: adding,
      usersRemoving: [],
    });
    const users = await h.db.collection<{ userIds: string[] }>(COLLECTIONS.accountUsers).findOne({ _id: old.accountId as never });
    assert.equal(users?.userIds.length, 4);
    assert.equal((await h.store.accounts.listUsers(old.accountId)).filter((u) => u.active).length, 4);

    // Uninstall: every set destroyed, every mapping deactivated, no token left.
    await h.run(h.acts.deprovisionAccount, { installationId: old.id, accountId: old.accountId });
    await h.run(h.acts.destroyCredentials, { installationId: old.id });
    const sets = await h.store.credentials.list(old.id);
    assert.deepEqual(
      sets.map((s) => s.status),
      ['destroyed', 'destroyed'],
    );
    assert.ok(sets.every((s) => !s.secret));
    const mappings = await h.store.accounts.listUsers(old.accountId);
    assert.equal(mappings.length, 4, 'the user mappings kept');
    assert.ok(
      mappings.every((u) => !u.active),
      'and deactivated',
    );
    assert.equal(await h.db.collection(COLLECTIONS.tokens).countDocuments({ installationId: old.id }), 0);
  });

  it('an uninstall of an older version’s installation never indexed destroys its set and tokens', async () => {
    const old = await legacyInstallation();
    await h.run(h.acts.obtainToken, { installationId: old.id, clientId: old.clientId });
    await h.run(h.acts.deprovisionAccount, { installationId: old.id, accountId: old.accountId });
    assert.equal(await h.run(h.acts.destroyCredentials, { installationId: old.id }).then((r) => r.destroyed), 1);
    assert.equal(await h.db.collection(COLLECTIONS.tokens).countDocuments({ installationId: old.id }), 0);
    const users = await h.store.accounts.listUsers(old.accountId);
    assert.ok(users.length > 0 && users.every((u) => !u.active), 'the user mappings kept, deactivated');
  });

  it('the start-up indexing indexes every stored set once and remembers it', async () => {
    const old = await legacyInstallation();
    const first = await h.store.prepare();
    assert.ok(first.indexedCredentialSets >= 1);
    const index = await h.db.collection<{ clientIds: string[] }>(COLLECTIONS.credentialSets).findOne({ _id: old.id as never });
    assert.deepEqual(index?.clientIds, [old.clientId]);
    assert.ok(await h.store.markers.get(MARKERS.credentialSets));
    assert.equal((await h.store.prepare()).indexedCredentialSets, 0, 'done once');
  });
});
