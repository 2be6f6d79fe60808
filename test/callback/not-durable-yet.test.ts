import assert from 'node:assert/strict';
import type { Document, Filter, FindOneOptions } from 'mongodb';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { COLLECTIONS, connectDatabase, type Database } from '../../src/store';
import { InboxStore } from '../../src/handover/inbox';
import { NotDurableYetError } from '../../src/store/db';
import { LogoutEventStore } from '../../src/store/logout-events';
import { inboxRecord } from '../support/inbox-records';
import { mongoUri, uniqueDbName } from '../support/servers';

/**
 * The same database, but the inbox as a primary shows it while its majority lags: a record an earlier delivery wrote
 * (its majority wait failed, so it was answered 503) is there for local reads, not for majority reads.
 */
function majorityLagging(db: Database): Database {
  const collection = ((name: Parameters<Database['collection']>[0]) => {
    const coll = db.collection<Document>(name);
    if (name !== COLLECTIONS.inbox) return coll;
    const findOne = (filter: Filter<Document>, options?: FindOneOptions) =>
      (options?.readConcern as { level?: string } | undefined)?.level === 'majority'
        ? Promise.resolve(null)
        : coll.findOne(filter, options ?? {});
    return new Proxy(coll, { get: (target, prop) => (prop === 'findOne' ? findOne : (Reflect.get(target, prop) as unknown)) });
  }) as Database['collection'];
  return { ...db, collection };
}

/**
 * A repeated delivery of an event an earlier delivery stored is answered as stored only once a majority holds the
 * record (docs/handover.md): found on the primary alone, it was answered 2xx, and a failover then rolled back what
 * Talkdesk had been told was stored (for `app.installed`, the account's only credentials). FerretDB.
 */
describe('inbox: a repeat of an event not yet on a majority (FerretDB)', () => {
  let db: Database;
  const keyring = parseKeyring(generateKeySpec('k1'));
  const secrets = { clientId: 'c1', clientSecret: 'not-a-real-secret', privateKey: '', publicKey: '' };
  beforeEach(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('durable'));
    await new InboxStore(db).ensureIndexes();
  });
  afterEach(async () => {
    await db.db.dropDatabase();
    await db.close();
  });

  for (const type of ['app.installed', 'app.updated'] as const) {
    it(`${type}: refused (503 at the callback) while the record is not on a majority; a duplicate once it is`, async () => {
      const e = inboxRecord(type);
      const credentials = type === 'app.installed' ? sealEventCredentials(keyring, e.installationId, secrets) : undefined;
      // The first delivery: written (here the write concern is met; in the failure, only the primary had it).
      assert.deepEqual(await new InboxStore(db).insert(e, credentials, { queue: false }), { stored: 'stored' });
      await assert.rejects(new InboxStore(majorityLagging(db)).insert(e, credentials, { queue: false }), NotDurableYetError);
      // Once the majority holds it (the real server's majority read, FerretDB accepts the read concern): a duplicate.
      assert.deepEqual(await new InboxStore(db).insert(e, credentials, { queue: false }), {
        stored: 'duplicate',
        dispatched: false,
        event: e.event,
        receivedAt: e.receivedAt,
        legacyCopy: false,
      });
    });
  }
});

/** The same database, its inbox read at majority showing nothing yet (as above), through `db.db` as the logout store reads it. */
function logoutMajorityLagging(db: Database): Database {
  const lagging = majorityLagging(db);
  const inner = new Proxy(db.db, {
    get: (target, prop) =>
      prop === 'collection'
        ? (name: string) => (name === COLLECTIONS.inbox ? lagging.collection(COLLECTIONS.inbox) : target.collection(name))
        : (Reflect.get(target, prop) as unknown),
  });
  return { ...db, db: inner };
}

/**
 * A `user.logout` delivered again whose handled mark is on the primary alone (its majority wait failed, answered 503):
 * handled again, not answered as a duplicate, so that a failover rolling the mark back cannot undo a 200. FerretDB.
 */
describe('user.logout: a repeat whose handled mark is not on a majority yet (FerretDB)', () => {
  let db: Database;
  beforeEach(async () => (db = await connectDatabase(await mongoUri(), uniqueDbName('logout-durable'))));
  afterEach(async () => {
    await db.db.dropDatabase();
    await db.close();
  });

  it('reads unhandled until a majority holds the mark; a duplicate once it does', async () => {
    const now = new Date();
    const logout = { accountId: 'acct-1', talkdeskUserId: 'u1', occurredAt: now.toISOString() };
    const record = { _id: 'logout-1', installationId: 'inst-1', type: 'user.logout' as const, createdAt: now, receivedAt: now, logout };
    const store = new LogoutEventStore(db);
    assert.deepEqual(await store.insert(record), { stored: true });
    await store.markHandled(record._id, 1);
    const lagging = new LogoutEventStore(logoutMajorityLagging(db));
    assert.deepEqual(
      await lagging.insert(record),
      { stored: false, handled: false, conflict: false, receivedAt: now },
      'with its first arrival',
    );
    assert.equal(await lagging.get(record._id, { durable: true }), null, "the backstop's read: not handled yet");
    assert.deepEqual(await store.insert(record), { stored: false, handled: true, conflict: false, receivedAt: now });
  });
});
