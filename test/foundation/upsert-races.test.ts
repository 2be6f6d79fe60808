import assert from 'node:assert/strict';
import { MongoServerError, type Collection, type Document } from 'mongodb';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { InboxStore } from '../../src/handover/inbox';
import { connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { credentialSecretContext } from '../../src/store/secret-contexts';
import { inboxRecord } from '../support/inbox-records';
import { mongoUri, uniqueDbName } from '../support/servers';

/**
 * An upsert that loses the race to insert its document: MongoDB retries it itself, FerretDB answers E11000. Each
 * writer here tries once more, so what it came to write lands on the document the other writer inserted. The race
 * is made deterministic: the other writer's insert happens inside the first try, which then fails as FerretDB's does.
 */
describe('upserts that lose an insert race (FerretDB)', function () {
  this.timeout(60_000);
  let db: Database;
  let store: Store;
  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('races'));
    store = createStore(db, parseKeyring(generateKeySpec('k1')));
    await store.ensureIndexes();
  });
  after(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  /** The collection's next updateOne runs `otherWriter` first, then fails with E11000 (the retry runs as usual). */
  function loseNextUpsertTo(coll: Collection<Document>, otherWriter: () => Promise<unknown>): () => number {
    const updateOne = coll.updateOne.bind(coll);
    let calls = 0;
    coll.updateOne = (async (...args: Parameters<typeof updateOne>) => {
      calls += 1;
      if (calls > 1) return updateOne(...args);
      await otherWriter();
      throw new MongoServerError({ message: 'E11000 duplicate key error', code: 11000 });
    }) as typeof coll.updateOne;
    return () => calls;
  }

  it("a callback's hold on a queue entry the backstop queued meanwhile is kept (not dropped as 'queued by the other')", async () => {
    const inbox = new InboxStore(db);
    const record = inboxRecord('app.updated', new Date());
    await inbox.insert(record, undefined, { queue: false });
    const queue = (inbox as unknown as { queue: Collection<Document> }).queue;
    const calls = loseNextUpsertTo(queue, () => inbox.enqueue(record)); // the backstop: due at once, no hold
    const hold = new Date(Date.now() + 16 * 60_000);
    assert.equal(await inbox.enqueue(record, hold), false, 'queued by the other writer');
    assert.equal(calls(), 3, "the other's write, this one's first try and its second");
    const entry = await inbox.queued(record._id);
    assert.equal(entry?.heldUntil?.getTime(), hold.getTime(), 'the hold landed');
    assert.deepEqual(
      (await inbox.listUndispatched(10)).map((r) => r._id),
      [],
      'not handed over before the hold ends',
    );
  });

  it('a token granted while another requester cached one is cached, not failed as a store error', async () => {
    const ids = { installationId: 'inst-race', clientId: 'client-race' };
    await store.credentials.importPending({
      ...ids,
      keyId: 'kid-1',
      keyAlgorithm: 'ES256',
      tokenUrl: 'https://x.talkdeskid.com/oauth/token',
      sourceEventId: 'evt-race',
      secret: store.credentials.encryptSecret(ids.installationId, ids.clientId, {
        clientSecret: 'cs-'.padEnd(24, 'x'),
        privateKey: 'pk',
        publicKey: 'pub',
      }),
      secretFrom: credentialSecretContext(ids.installationId, ids.clientId),
    });
    await store.credentials.activate(ids.installationId, ids.clientId);
    const expiresAt = new Date(Date.now() + 3_600_000);
    const tokens = (store.credentials as unknown as { tokens: Collection<Document> }).tokens;
    const calls = loseNextUpsertTo(tokens, () =>
      store.credentials.cacheToken(ids.installationId, ids.clientId, 'token-of-the-other', 'apps:read', expiresAt),
    );
    await store.credentials.cacheToken(ids.installationId, ids.clientId, 'token-of-this-one', 'apps:read', expiresAt);
    assert.equal(calls(), 3, "the other's write, this one's first try and its second");
    assert.equal(await store.credentials.cachedToken(ids.installationId, ids.clientId, 60_000), 'token-of-this-one');
  });
});
