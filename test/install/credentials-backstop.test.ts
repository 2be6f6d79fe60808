import assert from 'node:assert/strict';
import { CREDENTIALS_BACKSTOP_MARKER, PENDING_SET_MAX_AGE_MS } from '../../activities/reconciliation';
import { COLLECTIONS } from '../../src/store';
import { credentialId } from '../../src/store/credentials';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

const DAY = 86_400_000;

/**
 * The daily credentials backstop of the reconciliation pass, run as the worker runs it against
 * FerretDB: retiring sets past their grace, and rotation sets left pending past the rotation's seven
 * days (an import attempt that finished after the uninstall had destroyed the installation's sets).
 */
describe('credentials backstop: retired and orphaned pending sets (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(async () => h?.close());

  /**
   * Runs the backstop with the set `clientId` pending past the limit (imported that long ago), `between` running once
   * it is listed, before its destroy; how many sets the backstop destroyed.
   */
  async function backstopWithListedOrphan(installationId: string, clientId: string, between: () => Promise<unknown>): Promise<number> {
    await h.db
      .collection(COLLECTIONS.credentials)
      .updateOne(
        { _id: credentialId(installationId, clientId) as never },
        { $set: { createdAt: new Date(Date.now() - PENDING_SET_MAX_AGE_MS - 60_000) } },
      );
    await h.db.collection(COLLECTIONS.storeMarkers).deleteOne({ _id: CREDENTIALS_BACKSTOP_MARKER as never });
    const creds = h.store.credentials;
    const list = creds.listDueForDestruction.bind(creds);
    creds.listDueForDestruction = async (...args) => {
      const due = await list(...args);
      assert.ok(
        due.some((r) => r.clientId === clientId && r.status === 'pending'),
        'listed while pending',
      );
      await between();
      return due;
    };
    try {
      return (await h.run(h.acts.destroyRetiredCredentials, { limit: 1_000 })).destroyed;
    } finally {
      creds.listDueForDestruction = list;
    }
  }

  it('destroys a pending set older than the rotation could hold it, keeps a recent one and the active set', async () => {
    const { installation, clientId: active } = await h.installing(1);
    const importRotation = async () => {
      const rotation = await h.storeEvent(h.simulator.rotateCredentials(installation.id, { compromised: false }));
      const { clientId } = await h.run(h.acts.importCredentials, {
        installationId: installation.id,
        eventId: rotation.eventId,
        activate: false,
      });
      return clientId;
    };
    const orphan = await importRotation();
    const recent = await importRotation();
    const creds = h.db.collection(COLLECTIONS.credentials);
    // Imported just over the limit ago; the recent one a day inside it.
    await creds.updateOne(
      { _id: credentialId(installation.id, orphan) as never },
      { $set: { createdAt: new Date(Date.now() - PENDING_SET_MAX_AGE_MS - 60_000) } },
    );
    await creds.updateOne(
      { _id: credentialId(installation.id, recent) as never },
      { $set: { createdAt: new Date(Date.now() - PENDING_SET_MAX_AGE_MS + DAY) } },
    );

    const { destroyed } = await h.run(h.acts.destroyRetiredCredentials, { limit: 1_000 });
    assert.equal(destroyed, 1);
    const gone = await h.store.credentials.get(installation.id, orphan);
    assert.equal(gone?.status, 'destroyed');
    assert.equal(gone?.secret, undefined, 'the ciphertext itself is deleted');
    assert.equal((await h.store.credentials.get(installation.id, recent))?.status, 'pending');
    assert.ok(await h.store.credentials.usable(installation.id, recent), 'a rotation under way keeps its set');
    assert.equal((await h.store.credentials.get(installation.id, active))?.status, 'active');
    assert.ok(PENDING_SET_MAX_AGE_MS > 7 * DAY, 'longer than the seven days a rotation may hold its set');
  });

  it('keeps a pending set its workflow switched to after the backstop listed it (a stalled rotation resumed)', async () => {
    const { installation } = await h.installing(1);
    const rotation = await h.storeEvent(h.simulator.rotateCredentials(installation.id, { compromised: true }));
    const ref = { installationId: installation.id, eventId: rotation.eventId };
    const { clientId } = await h.run(h.acts.importCredentials, { ...ref, activate: false });
    // The switch lands between the backstop's listing and its destroy.
    const creds = h.store.credentials;
    assert.equal(await backstopWithListedOrphan(installation.id, clientId, () => creds.activate(installation.id, clientId)), 0);
    assert.equal((await creds.get(installation.id, clientId))?.status, 'active');
    assert.ok(await creds.usable(installation.id, clientId), 'the set switched to keeps its secret');
  });

  it("leaves a same-client reinstall's set alone when it was imported over the listed one before the backstop's destroy", async () => {
    const first = await h.installing(1);
    const installationId = first.installation.id;
    const raw = h.simulator.rotateCredentials(installationId, { compromised: false });
    const rotation = await h.storeEvent(raw);
    const { clientId } = await h.run(h.acts.importCredentials, { installationId, eventId: rotation.eventId, activate: false });
    // Between the listing and the destroy: the uninstall destroys every set, and a reinstall under the same
    // installation, handed the rotation's client again, imports it (pending until its install activates it).
    const { compromised: _c, ...credentials } = raw.data;
    const reinstall = { ...first.event, id: `${first.event.id}-reinstall`, data: { ...first.event.data, ...credentials } };
    const destroyed = await backstopWithListedOrphan(installationId, clientId, async () => {
      await h.run(h.acts.destroyCredentials, { installationId });
      await h.storeEvent(reinstall);
      await h.run(h.acts.importCredentials, { installationId, eventId: reinstall.id, activate: false });
    });
    assert.equal(destroyed, 0);
    const creds = h.store.credentials;
    const set = await creds.get(installationId, clientId);
    assert.deepEqual([set?.status, set?.sourceEventId], ['pending', reinstall.id]);
    assert.ok(await creds.usable(installationId, clientId), "the reinstall's secret is kept");
  });

  it('deletes cached tokens past their expiry (one a failed drop left behind), and keeps one still valid', async () => {
    const { installation, clientId } = await h.installing(1);
    const other = await h.installing(1);
    const tokens = h.db.collection(COLLECTIONS.tokens);
    await h.store.credentials.cacheToken(installation.id, clientId, 'token-expired', 'apps:read', new Date(Date.now() - 60_000));
    await h.store.credentials.cacheToken(
      other.installation.id,
      other.clientId,
      'token-valid',
      'apps:read',
      new Date(Date.now() + 3_600_000),
    );
    await h.db.collection(COLLECTIONS.storeMarkers).deleteOne({ _id: CREDENTIALS_BACKSTOP_MARKER as never });
    await h.run(h.acts.destroyRetiredCredentials, { limit: 1_000 });
    assert.equal(await tokens.countDocuments({ _id: credentialId(installation.id, clientId) as never }), 0, 'the expired one deleted');
    assert.equal(await h.store.credentials.cachedToken(other.installation.id, other.clientId, 0), 'token-valid');
  });
});
