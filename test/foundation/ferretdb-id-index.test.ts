import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { startFerretDB, type LocalMongo } from '../../src/local/ferretdb';
import { addIdPathIndexes } from '../../src/local/ferretdb-id-index';
import { freePort } from '../../src/local/process';
import { eventually } from '../support/waits';

/** SQLite's plan for the statement FerretDB sends for a `{_id}` filter, on the collection's table. */
function planOfIdLookup(dataDir: string, dbName: string, collection: string): string {
  const script = String.raw`
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
table = db.execute('SELECT table_name FROM _ferretdb_collections WHERE name = ?', (sys.argv[2],)).fetchone()[0]
plan = db.execute('EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "%s" WHERE _ferretdb_sjson->\'$._id\' = ?' % table, ('"x"',)).fetchall()
print(' | '.join(row[3] for row in plan))
`;
  return execFileSync('python3', ['-c', script, path.join(dataDir, `${dbName}.sqlite`), collection], { encoding: 'utf8' }).trim();
}

describe('local FerretDB: the _id path index', function () {
  this.timeout(60_000);
  let dir: string;
  let mongo: LocalMongo;
  let client: MongoClient;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'appconnect-idindex-'));
    // Without the store's own rounds, so that the test sees each table before and after.
    mongo = await startFerretDB({ port: await freePort(), dataDir: dir, idIndexes: false });
    client = await new MongoClient(mongo.uri).connect();
  });
  after(async () => {
    await client?.close();
    await mongo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('turns the table scan of a {_id} lookup into an index search, once per collection, and FerretDB keeps working', async () => {
    const coll = client.db('idx').collection<{ _id: string; n: number }>('docs');
    await coll.insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `id${n}`, n })));
    assert.match(planOfIdLookup(dir, 'idx', 'docs'), /SCAN/, 'FerretDB alone scans the table');
    assert.equal(await addIdPathIndexes(dir), 1);
    assert.match(planOfIdLookup(dir, 'idx', 'docs'), /SEARCH .* USING INDEX .*__id_path_appconnect/);
    assert.equal(await addIdPathIndexes(dir), 0, 'nothing left to add');

    // A new collection is indexed by the next round.
    const other = client.db('idx').collection<{ _id: string }>('other');
    await other.insertOne({ _id: 'a' });
    assert.match(planOfIdLookup(dir, 'idx', 'other'), /SCAN/);
    assert.equal(await addIdPathIndexes(dir), 1);
    assert.match(planOfIdLookup(dir, 'idx', 'other'), /SEARCH/);

    // Reads, writes and drops through FerretDB are unaffected; its own index list does not show ours.
    assert.equal((await coll.findOne({ _id: 'id49' }))?.n, 49);
    await coll.updateOne({ _id: 'id49' }, { $set: { n: 490 } });
    assert.equal((await coll.findOne({ _id: 'id49' }))?.n, 490);
    await coll.deleteOne({ _id: 'id0' });
    assert.equal(await coll.countDocuments(), 49);
    await assert.rejects(coll.insertOne({ _id: 'id1', n: 1 }), /duplicate key/i, 'the unique _id index still holds');
    assert.deepEqual(
      (await coll.listIndexes().toArray()).map((i) => i.name),
      ['_id_'],
    );
    assert.equal(await other.drop(), true);
    assert.equal(await addIdPathIndexes(dir), 0);
  });

  it('is added by the store startFerretDB starts, on its own', async () => {
    const ownDir = mkdtempSync(path.join(os.tmpdir(), 'appconnect-idindex-'));
    const own = await startFerretDB({ port: await freePort(), dataDir: ownDir });
    const ownClient = await new MongoClient(own.uri).connect();
    try {
      await ownClient.db('auto').collection<{ _id: string }>('docs').insertOne({ _id: 'a' });
      await eventually(
        'the index of the first round',
        async () => (/SEARCH/.test(planOfIdLookup(ownDir, 'auto', 'docs')) ? true : undefined),
        40_000,
      );
    } finally {
      await ownClient.close();
      await own.stop();
      rmSync(ownDir, { recursive: true, force: true });
    }
  });
});
