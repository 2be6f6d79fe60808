import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decryptJson, generateKeySpec, parseKeyring, type EncryptedBlob } from '../../src/crypto/secrets';
import type { InboxRecord } from '../../src/handover/inbox';
import { COLLECTIONS, connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { reencryptAll } from '../../src/store/reencrypt';
import { credentialSecretContext, eventCredentialsContext } from '../../src/store/secret-contexts';
import { legacyBlob } from '../support/legacy-secrets';
import { mongoUri, uniqueDbName } from '../support/servers';

/**
 * The store's rule (src/store/README.md): no two components write one document at the
 * same time. On the embedded FerretDB an update reads the document and writes all of it
 * back, so two concurrent updates of one document can lose one. Each case runs, at once
 * and on the same documents, every writer a collection has in production, then checks
 * that each write is still there.
 */
const N = 40;
const specA = generateKeySpec('A');
const specB = generateKeySpec('B');

function newEvent(): Omit<InboxRecord, 'dispatchedAt' | 'credentials'> & {
  secret: { clientSecret: string; privateKey: string; publicKey: string };
} {
  const id = randomBytes(16).toString('hex');
  const installationId = randomBytes(16).toString('hex');
  const createdAt = new Date();
  return {
    _id: id,
    installationId,
    type: 'app.installed',
    createdAt,
    receivedAt: createdAt,
    event: {
      eventId: id,
      type: 'app.installed',
      createdAt: createdAt.toISOString(),
      appId: 'app',
      installationId,
      facts: { client_id: 'c' },
      links: {},
    },
    secret: { clientSecret: `secret-${id}`, privateKey: 'pk', publicKey: 'pub' },
  };
}

describe('one writer per document: concurrent writers lose no write (FerretDB)', function () {
  this.timeout(120_000);
  let db: Database;
  let store: Store;
  const keyring = parseKeyring(specA);

  beforeEach(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('writers'));
    store = createStore(db, keyring);
    await store.ensureIndexes();
  });
  afterEach(async () => {
    await db.db.dropDatabase();
    await db.close();
  });

  /** Stores events as the callback does: credentials apart, the record, its queue entry. */
  async function deliver(n: number) {
    const events = Array.from({ length: n }, newEvent);
    for (const { secret, ...record } of events)
      await store.inbox.insert(record, sealEventCredentials(keyring, record.installationId, { ...secret, clientId: 'c' }));
    return events;
  }

  it('the check bites: two components updating different fields of one document at once do lose writes here', async () => {
    // The shape this rule replaced: the import dropping credentials from the record the callback marks.
    const scratch = db.collection<{ _id: string; credentials?: string; dispatchedAt?: Date }>(COLLECTIONS.inbox);
    let lost = 0;
    for (let round = 0; round < 5 && lost === 0; round += 1) {
      const ids = Array.from({ length: N }, (_, i) => `scratch-${round}-${i}`);
      await scratch.insertMany(ids.map((_id) => ({ _id, credentials: 'blob' })));
      await Promise.all(
        ids.map((_id) =>
          Promise.all([
            scratch.updateOne({ _id }, { $set: { dispatchedAt: new Date() } }),
            scratch.updateOne({ _id }, { $unset: { credentials: '' } }),
          ]),
        ),
      );
      for (const d of await scratch.find({ _id: { $in: ids } }).toArray()) if (!d.dispatchedAt || d.credentials) lost += 1;
    }
    assert.ok(lost > 0, 'no write was lost in 5 rounds: this store does not show the race the other cases guard against');
  });

  it('inbox, dispatch_queue, event_credentials: callback, dispatcher, reconciliation and the import on the same events', async () => {
    const events = await deliver(N);
    await Promise.all(
      events.map(async ({ secret, ...record }) => {
        const id = record._id;
        await Promise.all([
          // The callback's first hand-over: by `_id` alone, nothing to dequeue (src/handover/inbox.ts).
          store.inbox.markDispatched(id, { record: {}, dequeue: false }),
          store.inbox.markDispatched(id, { record }), // the dispatcher, with the record it read
          store.inbox.markDispatched(id, { record }), // reconciliation
          store.inbox.markDispatched(id), // a redelivery of an event not marked yet
          store.inbox.recordDispatchFailure(id, 1, new Date(Date.now() + 60_000), 'Error: late failure'), // another dispatcher
          store.inbox.requeueUndispatched(), // the backstop, queueing what is not marked yet
          // A redelivery, stored as the callback stores it (queued only if its hand-over fails).
          store.inbox.insert(record, sealEventCredentials(keyring, record.installationId, { ...secret, clientId: 'c' }), { queue: false }),
          (async () => {
            // The workflow's import: read the credentials, then delete them.
            const stored = await store.eventCredentials.get(id);
            assert.ok(stored && !stored.inInbox, `credentials of ${id} stored apart`);
            await store.eventCredentials.delete(id);
          })(),
        ]);
      }),
    );
    for (const { secret: _secret, ...record } of events) {
      const after = await store.inbox.get(record._id);
      assert.ok(after?.dispatchedAt instanceof Date, `${record._id}: the hand-over mark is kept`);
      assert.deepEqual(
        { ...after, dispatchedAt: undefined },
        { ...record, dispatchedAt: undefined },
        `${record._id}: the record is as stored`,
      );
      assert.equal(await store.eventCredentials.get(record._id), undefined, `${record._id}: the imported credentials stay deleted`);
    }
    assert.deepEqual(await store.inbox.listUndispatched(2 * N, new Date(8.64e15)), [], 'nothing is handed over again');
  });

  it('dispatch_queue: dispatchers backing off while redeliveries queue the same events', async () => {
    const events = await deliver(N);
    const nextAt = new Date(Date.now() + 60_000);
    await Promise.all(
      events.map(({ secret, ...record }) =>
        Promise.all([
          store.inbox.recordDispatchFailure(record._id, 1, nextAt, 'Error: Temporal down'),
          store.inbox.insert(record, sealEventCredentials(keyring, record.installationId, { ...secret, clientId: 'c' })),
          store.inbox.requeueUndispatched(),
        ]),
      ),
    );
    for (const e of events) {
      const q = await store.inbox.queued(e._id);
      assert.equal(q?.dispatchAttempts, 1, `${e._id}: the failure is kept`);
      assert.equal(q?.nextDispatchAt.getTime(), nextAt.getTime(), `${e._id}: the backoff is kept`);
    }
  });

  it('inbox: credentials of an older version moved out while the hand-over marks and imports', async () => {
    const legacy = db.collection<InboxRecord>(COLLECTIONS.inbox);
    const events = Array.from({ length: N }, newEvent).map(({ secret, ...record }, i) => ({
      ...record,
      // Version 1, as the versions that kept credentials in the inbox record wrote them.
      credentials: legacyBlob(keyring, keyring.currentKid, secret, record.installationId),
      ...(i % 2 === 0 ? { dispatchedAt: new Date() } : {}),
    }));
    await legacy.insertMany(events);
    const unmarked = events.filter((e) => !e.dispatchedAt);
    await Promise.all([
      store.inbox.moveLegacyCredentials(), // a process starting
      ...events.map((e) => store.inbox.markDispatched(e._id, { record: e })), // the dispatcher's hand-over, with the record it read
      ...unmarked.map(async (e) => {
        // The import of an event not marked yet: it reads the inbox copy.
        const stored = await store.eventCredentials.get(e._id);
        assert.ok(stored, `${e._id}: credentials readable`);
        await store.eventCredentials.delete(e._id);
        if (stored.inInbox) await store.inbox.dropLegacyCredentials(e._id);
      }),
    ]);
    await store.inbox.moveLegacyCredentials(); // the next start
    for (const e of events) {
      const after = await store.inbox.get(e._id);
      assert.ok(after?.dispatchedAt instanceof Date, `${e._id}: marked`);
      assert.equal(after?.credentials, undefined, `${e._id}: no credentials left in the inbox record`);
      if (e.dispatchedAt) {
        assert.deepEqual((await store.eventCredentials.get(e._id))?.secret, e.credentials, `${e._id}: moved, not lost`);
      }
    }
  });

  it("credentials, tokens: the workflow's retirement and reconciliation's backstop destroy the same sets while new sets are activated", async () => {
    const sets = Array.from({ length: N }, (_, i) => ({ installationId: `inst-${i}`, old: `old-${i}`, current: `new-${i}` }));
    for (const s of sets) {
      for (const clientId of [s.old, s.current]) {
        await store.credentials.importPending({
          installationId: s.installationId,
          clientId,
          keyId: 'k',
          keyAlgorithm: 'ES256',
          tokenUrl: 'https://example.talkdeskid.com/oauth/token',
          sourceEventId: `evt-${clientId}`,
          secret: store.credentials.encryptSecret(s.installationId, clientId, {
            clientSecret: `cs-${clientId}`,
            privateKey: 'pk',
            publicKey: 'pub',
          }),
          secretFrom: credentialSecretContext(s.installationId, clientId),
        });
      }
      await store.credentials.activate(s.installationId, s.old);
      await store.credentials.cacheToken(s.installationId, s.old, `token-${s.old}`, 'apps:read', new Date(Date.now() + 3_600_000));
      await store.credentials.scheduleRetirement(s.installationId, s.old, new Date(Date.now() - 1_000));
    }
    await Promise.all(
      sets.flatMap((s) => [
        store.credentials.destroy(s.installationId, s.old), // the workflow's retirement timer
        store.credentials.destroy(s.installationId, s.old), // reconciliation's backstop
        store.credentials.activate(s.installationId, s.current),
        store.credentials.cacheToken(s.installationId, s.current, `token-${s.current}`, 'apps:read', new Date(Date.now() + 3_600_000)),
      ]),
    );
    for (const s of sets) {
      const old = await store.credentials.get(s.installationId, s.old);
      assert.equal(old?.status, 'destroyed', `${s.old}: destroyed`);
      assert.equal(old?.secret, undefined, `${s.old}: no secret left`);
      assert.equal(await store.credentials.cachedToken(s.installationId, s.old, 0), undefined, `${s.old}: no token left`);
      assert.equal((await store.credentials.get(s.installationId, s.current))?.status, 'active', `${s.current}: active`);
      assert.equal(await store.credentials.cachedToken(s.installationId, s.current, 0), `token-${s.current}`, `${s.current}: token kept`);
    }
    // A token request that answers after its set was destroyed (a reconciliation read racing a compromised rotation):
    // the token it caches is dropped, never served for destroyed credentials.
    for (const s of sets) {
      await store.credentials.cacheToken(s.installationId, s.old, `late-${s.old}`, 'apps:read', new Date(Date.now() + 3_600_000));
      assert.equal(await store.credentials.cachedToken(s.installationId, s.old, 0), undefined, `${s.old}: a late token is not kept`);
    }
  });

  it('event_credentials: re-encryption while imports delete and the callback stores', async () => {
    const events = await deliver(N);
    const [imported, kept] = [events.slice(0, N / 2), events.slice(N / 2)];
    const late = Array.from({ length: N / 2 }, newEvent);
    const keyringBA = parseKeyring(`${specB},${specA}`);
    await Promise.all([
      reencryptAll(db, keyringBA, { batchSize: 5 }),
      ...imported.map((e) => store.eventCredentials.delete(e._id)),
      ...late.map(({ secret, ...record }) =>
        store.inbox.insert(record, sealEventCredentials(keyring, record.installationId, { ...secret, clientId: 'c' })),
      ),
    ]);
    for (const e of imported) assert.equal(await store.eventCredentials.get(e._id), undefined, `${e._id}: stays deleted`);
    for (const e of [...kept, ...late]) {
      const blob = (await store.eventCredentials.get(e._id))?.secret as EncryptedBlob;
      assert.deepEqual(
        decryptJson(keyringBA, blob, eventCredentialsContext(e.installationId, 'c')),
        e.secret,
        `${e._id}: readable, under A or B`,
      );
    }
  });

  it("installations, talkdesk_checks: the workflow's phase records while reconciliation records its Talkdesk reads", async () => {
    const ids = Array.from({ length: N }, () => randomBytes(16).toString('hex'));
    const record = (id: string, phase: 'installing' | 'active' | 'updating') =>
      store.installations.record(id, { workflowId: `w-${id}`, appId: 'app', phase });
    for (const id of ids) await record(id, 'installing');
    const phases = ['active', 'updating', 'active', 'updating'] as const;
    const reads = phases.map((_, round) => new Date(Date.now() + round * 1_000));
    for (const [round, phase] of phases.entries()) {
      // The workflow's next phase and a pass's page reading the same installations, at the same moment.
      await Promise.all(ids.flatMap((id) => [record(id, phase), store.installations.markCheckedByReconciliation(id, reads[round]!)]));
      for (const id of ids) {
        assert.equal((await store.installations.get(id))?.phase, phase, `round ${round}, ${id}: the phase the workflow wrote is kept`);
        assert.deepEqual(await store.installations.lastTalkdeskCheck(id), reads[round], `round ${round}, ${id}: the read is kept`);
      }
    }
  });

  it('store_markers, talkdesk_checks: upserts of one new document at once (web and worker starting together) all succeed', async () => {
    // Each process prepares the store at start; on a fresh database both insert the same markers.
    const fresh = createStore(db, keyring);
    await Promise.all([store.prepare(), fresh.prepare(), store.prepare()]);
    const ids = Array.from({ length: N }, () => randomBytes(16).toString('hex'));
    const at = new Date();
    await Promise.all(ids.flatMap((id) => [store.markers.set(`m-${id}`, at), fresh.markers.set(`m-${id}`, at)]));
    await Promise.all(
      ids.flatMap((id) => [
        store.installations.markCheckedByReconciliation(id, at),
        fresh.installations.markCheckedByReconciliation(id, at),
      ]),
    );
    for (const id of ids) {
      assert.deepEqual((await store.markers.get(`m-${id}`))?.at, at);
      assert.deepEqual(await store.installations.lastTalkdeskCheck(id), at);
    }
  });

  it("partner_outstanding: reconciliation delivering an installation's outstanding calls while its workflow keeps a new one", async () => {
    const ids = Array.from({ length: N }, () => randomBytes(16).toString('hex'));
    const keep = (installationId: string, id: string) =>
      store.partnerCalls.keepOutstanding({ id, installationId, type: 'account.undo_provision', body: '{}', lastError: 'timed out' });
    for (const id of ids) await keep(id, `old-${id}`);
    // A pass delivered the old one; the next pass reads the installation's calls while its workflow keeps a new one.
    for (const id of ids) await store.partnerCalls.deliveredIfOutstanding(`old-${id}`);
    await Promise.all(ids.flatMap((id) => [store.partnerCalls.outstanding(id), keep(id, `new-${id}`)]));
    for (const id of ids) {
      const left = (await store.partnerCalls.outstanding(id)).map((c) => c._id);
      assert.deepEqual(left, [`new-${id}`], `${id}: the call kept meanwhile is still found by the next pass`);
    }
  });
});
