import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Document, Filter } from 'mongodb';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { PROJECT_ROOT } from '../../src/local/tools';
import { COLLECTIONS, connectDatabase, createStore, type Database } from '../../src/store';
import { countBlobsByKid, reencryptAll } from '../../src/store/reencrypt';
import { LeaseHeldError, LeaseLostError, REENCRYPT_LEASE, RunLease } from '../../src/store/run-lease';
import { credentialSecretContext } from '../../src/store/secret-contexts';
import { mongoUri, uniqueDbName } from '../support/servers';
import { eventually } from '../support/waits';

const specA = generateKeySpec('A');
const specB = generateKeySpec('B');
const leaseId = { _id: REENCRYPT_LEASE as unknown } as Filter<Document>;

/** One writing `npm run reencrypt` at a time: overlapping runs can each move one record and lose a write between them. */
describe('security: re-encryption runs one at a time (a lease in store_markers)', function () {
  this.timeout(60_000);
  let uri: string;
  let dbName: string;
  let db: Database;
  const leases = () => db.collection<Document>(COLLECTIONS.storeMarkers);
  beforeEach(async () => {
    uri = await mongoUri();
    dbName = uniqueDbName('reenc-lease');
    db = await connectDatabase(uri, dbName);
  });
  afterEach(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  /** An active credential set under key A, which a run under [B, A] re-encrypts. */
  async function setUnderA(installationId: string) {
    const store = createStore(db, parseKeyring(specA));
    await store.ensureIndexes();
    const clientId = `client-${installationId}`;
    await store.credentials.importPending({
      installationId,
      clientId,
      keyId: 'kid-1',
      keyAlgorithm: 'ES256',
      tokenUrl: 'https://example.talkdeskid.com/oauth/token',
      sourceEventId: `evt-${installationId}`,
      secret: store.credentials.encryptSecret(installationId, clientId, {
        clientSecret: 'cs-lease-0123456789',
        privateKey: 'pk',
        publicKey: 'pub',
      }),
      secretFrom: credentialSecretContext(installationId, clientId),
    });
    await store.credentials.activate(installationId, clientId);
  }

  it('a second run is refused while the first holds the lease, and takes it once released', async () => {
    const first = await RunLease.acquire(db, REENCRYPT_LEASE);
    await assert.rejects(RunLease.acquire(db, REENCRYPT_LEASE), (err: unknown) => {
      assert.ok(err instanceof LeaseHeldError);
      assert.match(err.message, new RegExp(`pid ${process.pid}, since .* holds the lease reencrypt-run: wait for it to end`));
      return true;
    });
    first.assertHeld();
    await first.release();
    const second = await RunLease.acquire(db, REENCRYPT_LEASE);
    second.assertHeld();
    await second.release();
    assert.equal(await leases().countDocuments(leaseId), 0, 'released: no lease left');
  });

  it("a killed run's lease is taken once it expired, not before", async () => {
    const killed = { owner: 'killed-run', holder: 'other-host pid 1', at: new Date(Date.now() - 60_000) };
    await leases().insertOne({ _id: REENCRYPT_LEASE as unknown, ...killed, until: new Date(Date.now() + 60_000) } as Document);
    await assert.rejects(RunLease.acquire(db, REENCRYPT_LEASE), /other-host pid 1/);
    await leases().updateOne(leaseId, { $set: { until: new Date(Date.now() - 1) } });
    const taken = await RunLease.acquire(db, REENCRYPT_LEASE);
    const record = await leases().findOne(leaseId);
    assert.notEqual(record?.owner, 'killed-run');
    await taken.release();
  });

  it('a run that lost its lease stops before its next write and leaves the rest to the next run', async () => {
    for (const id of ['inst-lost-1', 'inst-lost-2']) await setUnderA(id);
    const lease = await RunLease.acquire(db, REENCRYPT_LEASE, 800);
    // Another run took it (this one stalled past its expiry): the next renewal finds it gone.
    await leases().updateOne(leaseId, { $set: { owner: 'another-run' } });
    await eventually('the lease seen lost', async () => {
      try {
        lease.assertHeld();
        return undefined;
      } catch (err) {
        return err instanceof LeaseLostError ? true : undefined;
      }
    });
    await assert.rejects(
      reencryptAll(db, parseKeyring(`${specB},${specA}`), { batchSize: 1, beforeWrite: async () => lease.assertHeld() }),
      LeaseLostError,
    );
    const byKid = await countBlobsByKid(db);
    assert.equal(byKid.A, 2, `nothing re-encrypted: ${JSON.stringify(byKid)}`);
    await lease.release();
    assert.equal((await leases().findOne(leaseId))?.owner, 'another-run', "the other run's lease kept");
  });

  it('`npm run reencrypt` while another run holds the lease exits 1, names it and changes nothing; a dry run still counts', async () => {
    await setUnderA('inst-cli');
    const until = new Date(Date.now() + 60_000);
    await leases().insertOne({
      _id: REENCRYPT_LEASE as unknown,
      owner: 'o',
      holder: 'ops-box pid 4242',
      at: new Date(),
      until,
    } as Document);
    const run = (args: string[]) =>
      spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/entry/reencrypt.js'), ...args], {
        env: { PATH: process.env.PATH ?? '', MONGODB_URI: uri, MONGODB_DB: dbName, SECRETS_KEY: `${specB},${specA}` },
        encoding: 'utf8',
        timeout: 45_000,
      });
    const refused = run([]);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /another run \(ops-box pid 4242, since .*\) holds the lease reencrypt-run: .*\(nothing was changed\)/);
    assert.ok(refused.stderr.includes(`expires at ${until.toISOString()}`), refused.stderr);
    assert.equal((await countBlobsByKid(db)).A, 1, 'nothing re-encrypted');
    const dry = run(['--dry-run']);
    assert.equal(dry.status, 1, dry.stderr); // something left under A
    assert.equal((JSON.parse(dry.stdout) as { totals: { found: number } }).totals.found, 1);
    await leases().deleteOne(leaseId);
    const done = run([]);
    assert.equal(done.status, 0, done.stderr);
    assert.equal((await countBlobsByKid(db)).A ?? 0, 0, 'all under B');
    assert.equal(await leases().countDocuments(leaseId), 0, 'the run released its lease');
  });
});
