import assert from 'node:assert/strict';
import type { Document, Filter, FindOneOptions } from 'mongodb';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { COLLECTIONS, connectDatabase, type Database } from '../../src/store';
import { InboxStore, NotDurableYetError } from '../../src/handover/inbox';
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
      });
    });
  }
});
