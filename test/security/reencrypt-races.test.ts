import assert from 'node:assert/strict';
import type { Document, Filter } from 'mongodb';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { COLLECTIONS, connectDatabase, type Database } from '../../src/store';
import { credentialId } from '../../src/store/credential-ids';
import { migrateCredentialIds, reencryptAll } from '../../src/store/reencrypt';
import { mongoUri, uniqueDbName } from '../support/servers';
import { activeSetUnder } from './active-set';

const specA = generateKeySpec('A');
const specB = generateKeySpec('B');

/**
 * `npm run reencrypt` runs while the service writes: a destroy landing on a record it is moving to its collision-free
 * id, and an older version's inbox copy moved into event_credentials by a process starting mid-run (FerretDB).
 */
describe('security: re-encryption while the service writes', function () {
  this.timeout(60_000);
  let db: Database;
  beforeEach(async () => (db = await connectDatabase(await mongoUri(), uniqueDbName('reenc-race'))));
  afterEach(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  /** One active set of `installationId` under key A; returns the store that wrote it. */
  const activeSet = (installationId: string, clientId: string) => activeSetUnder(db, specA, installationId, clientId);

  it('a destroy written to the old id after the move re-read it is carried to the new id, never deleted with it', async () => {
    // An id holding ':' was stored under the legacy id (installationId:clientId) by older versions.
    const installationId = 'inst:with-colon';
    const clientId = 'client-race';
    await activeSet(installationId, clientId);
    const creds = db.collection<Document>(COLLECTIONS.credentials);
    const current = await creds.findOne({ installationId, clientId });
    assert.ok(current);
    const legacyId = `${installationId}:${clientId}`;
    await creds.deleteOne({ _id: current._id as unknown } as Filter<Document>);
    await creds.insertOne({ ...current, _id: legacyId as unknown } as Document);
    // The uninstall's destroy, which read the old id before the copy, writes it just before the move's delete.
    const deleteOne = creds.deleteOne.bind(creds);
    let destroyed = false;
    const watched: Database = {
      ...db,
      collection: <T extends Document>(name: Parameters<Database['collection']>[0]) => {
        const coll = db.collection<T>(name);
        if (name !== COLLECTIONS.credentials) return coll;
        return Object.assign(Object.create(coll) as typeof coll, {
          deleteOne: async (filter: Filter<T>) => {
            if (!destroyed) {
              destroyed = true;
              await creds.updateOne({ _id: legacyId as unknown } as Filter<Document>, {
                $set: { status: 'destroyed', destroyedAt: new Date() },
                $unset: { secret: '' },
              });
            }
            return deleteOne(filter as Filter<Document>);
          },
        });
      },
    };
    await migrateCredentialIds(watched);
    assert.ok(destroyed, 'the destroy landed between the re-read and the delete');
    const moved = await creds.findOne({ _id: credentialId(installationId, clientId) as unknown } as Filter<Document>);
    assert.equal(moved?.status, 'destroyed', 'the destroy carried over: the secret is not readable again');
    assert.equal(moved?.secret, undefined);
    assert.equal(await creds.countDocuments({ _id: legacyId as unknown } as Filter<Document>), 0, 'the legacy record moved');
  });

  /**
   * A record of `collection` under its legacy id, and a migration during which that record is deleted after the move
   * read it, before its copy (a token dropped with its set; or, for a credential set, another run's move).
   */
  async function legacyDeletedDuringMove(collection: typeof COLLECTIONS.tokens | typeof COLLECTIONS.credentials, installationId: string) {
    const clientId = 'client-gone';
    const store = await activeSet(installationId, clientId);
    await store.credentials.cacheToken(installationId, clientId, 'tok-race-0123456789', 'apps:read', new Date(Date.now() + 3_600_000));
    const records = db.collection<Document>(collection);
    const current = await records.findOne({ installationId, clientId });
    assert.ok(current);
    const legacyId = `${installationId}:${clientId}`;
    await records.deleteOne({ _id: current._id as unknown } as Filter<Document>);
    await records.insertOne({ ...current, _id: legacyId as unknown } as Document);
    const insertOne = records.insertOne.bind(records);
    const watched: Database = {
      ...db,
      collection: <T extends Document>(name: Parameters<Database['collection']>[0]) => {
        const coll = db.collection<T>(name);
        if (name !== collection) return coll;
        return Object.assign(Object.create(coll) as typeof coll, {
          insertOne: async (doc: Document) => {
            deleted += (await records.deleteOne({ _id: legacyId as unknown } as Filter<Document>)).deletedCount;
            return insertOne(doc);
          },
        });
      },
    };
    let deleted = 0;
    await migrateCredentialIds(watched);
    assert.equal(deleted, 1, 'the legacy record deleted between the read and the copy (the race staged)');
    return records.countDocuments({ installationId, clientId });
  }

  it('a cached token dropped (its set destroyed) between the move reading it and copying it is not brought back', async () => {
    assert.equal(await legacyDeletedDuringMove(COLLECTIONS.tokens, 'inst:token-race'), 0, 'no token of the destroyed set is served again');
  });

  it("a credential set whose legacy record another run's move deleted meanwhile keeps its copy (never deleted by the service)", async () => {
    assert.equal(await legacyDeletedDuringMove(COLLECTIONS.credentials, 'inst:two-runs'), 1, 'the set is not lost');
  });

  it("a destroy written to the legacy record after an overlapping run copied it reaches that run's copy", async () => {
    const installationId = 'inst:overlap';
    const clientId = 'client-overlap';
    await activeSet(installationId, clientId);
    const creds = db.collection<Document>(COLLECTIONS.credentials);
    const copy = await creds.findOne({ installationId, clientId });
    assert.ok(copy?.secret, 'the other run copied it while active');
    // The legacy record, destroyed since by an uninstall that found it before the copy existed.
    const { secret: _secret, ...withoutSecret } = copy;
    const legacyId = `${installationId}:${clientId}`;
    await creds.insertOne({ ...withoutSecret, _id: legacyId as unknown, status: 'destroyed', destroyedAt: new Date() } as Document);
    await migrateCredentialIds(db);
    const moved = await creds.findOne({ _id: credentialId(installationId, clientId) as unknown } as Filter<Document>);
    assert.deepEqual([moved?.status, moved?.secret], ['destroyed', undefined], 'the secret is not readable again');
    assert.equal(await creds.countDocuments({ _id: legacyId as unknown } as Filter<Document>), 0);
  });

  it('a stale copy moved into event_credentials after that field was counted keeps the run from reporting complete', async () => {
    await activeSet('inst-count', 'client-count');
    const copies = db.collection<Document>(COLLECTIONS.eventCredentials);
    const report = await reencryptAll(db, parseKeyring(`${specB},${specA}`), {
      // A process starting now moves an older version's inbox copy (under key A) into event_credentials.
      beforeWrite: async (collection) => {
        if (collection !== COLLECTIONS.credentials) return;
        const old = { v: 1, kid: 'A', iv: 'aXY=', tag: 'dGFn', ct: 'Y3Q=' };
        await copies.insertOne({ _id: 'evt-moved' as unknown, installationId: 'inst-count', clientId: 'c', secret: old } as Document);
      },
    });
    assert.equal(report.fields.find((f) => f.collection === COLLECTIONS.eventCredentials)?.remaining, 1);
    assert.equal(report.complete, false, 'run it again: the moved copy is still under the old key');
  });
});
