import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Document, Filter } from 'mongodb';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { PROJECT_ROOT } from '../../src/local/tools';
import { runReencrypt } from '../../src/entry/reencrypt-run';
import { COLLECTIONS, connectDatabase, type Database } from '../../src/store';
import { countBlobsByKid, reencryptAll } from '../../src/store/reencrypt';
import { LeaseHeldError, LeaseLostError, REENCRYPT_LEASE, RunLease } from '../../src/store/run-lease';
import { mongoUri, uniqueDbName } from '../support/servers';
import { activeSetUnder } from './active-set';
import { eventually, holdsFor } from '../support/waits';

const specA = generateKeySpec('A');
const specB = generateKeySpec('B');

/** One writing `npm run reencrypt` at a time: overlapping runs can each move one record and lose a write between them. */
describe('security: re-encryption runs one at a time (a lease in store_markers)', function () {
  this.timeout(60_000);
  let uri: string;
  let dbName: string;
  let db: Database;
  const leases = () => db.collection<Document>(COLLECTIONS.storeMarkers);
  /** The lease's documents, one per holder in turn (`reencrypt-run#<generation>`). */
  const generations = async () =>
    (await leases().find({}).toArray()).filter((d) => String(d._id).startsWith(`${REENCRYPT_LEASE}#`)) as Document[];
  const generation = (n: number) => `${REENCRYPT_LEASE}#${String(n).padStart(12, '0')}`;
  /** Another run's lease, generation `n`, until `until`. */
  const otherRun = (n: number, until: Date, holder = 'other-host pid 1') =>
    leases().insertOne({
      _id: generation(n) as unknown,
      owner: `other-${n}`,
      holder,
      at: new Date(Date.now() - 60_000),
      until,
    } as Document);
  beforeEach(async () => {
    uri = await mongoUri();
    dbName = uniqueDbName('reenc-lease');
    db = await connectDatabase(uri, dbName);
  });
  afterEach(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  /** An active credential set under key A, which a run under [B, A] re-encrypts; optionally under its legacy id. */
  async function setUnderA(installationId: string, legacyId = false) {
    const clientId = `client-${installationId}`;
    await activeSetUnder(db, specA, installationId, clientId);
    if (!legacyId) return;
    // As older versions stored it: under `${installationId}:${clientId}`, which the run moves first.
    const creds = db.collection<Document>(COLLECTIONS.credentials);
    const current = await creds.findOne({ installationId, clientId });
    assert.ok(current);
    await creds.deleteOne({ _id: current._id as unknown } as Filter<Document>);
    await creds.insertOne({ ...current, _id: `${installationId}:${clientId}` as unknown } as Document);
  }

  /** A lease this run holds, then another run's generation after it (as if this one had stalled): seen lost. */
  async function takenOver(): Promise<RunLease> {
    const lease = await RunLease.acquire(db, REENCRYPT_LEASE, 800);
    await otherRun(2, new Date(Date.now() + 60_000));
    await eventually('the lease seen lost', async () => {
      try {
        lease.assertHeld();
        return undefined;
      } catch (err) {
        return err instanceof LeaseLostError ? true : undefined;
      }
    });
    return lease;
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
    // Released: expired, and kept as the latest generation (the next run numbers after it), the earlier one gone.
    const left = await generations();
    assert.deepEqual(
      left.map((d) => d._id),
      [generation(2)],
    );
    assert.ok((left[0]?.until as Date).getTime() <= Date.now(), 'expired');
  });

  it("a killed run's lease is taken once it expired, not before, and its document goes", async () => {
    await otherRun(7, new Date(Date.now() + 60_000));
    await assert.rejects(RunLease.acquire(db, REENCRYPT_LEASE), /other-host pid 1/);
    await leases().updateOne({ _id: generation(7) as unknown } as Filter<Document>, { $set: { until: new Date(Date.now() - 1) } });
    const taken = await RunLease.acquire(db, REENCRYPT_LEASE);
    assert.deepEqual(
      (await generations()).map((d) => d._id),
      [generation(8)],
    );
    await taken.release();
  });

  it('of runs taking an expired lease at once, one wins (FerretDB too: each takeover is an insert, not a conditional update)', async () => {
    for (let round = 0; round < 5; round += 1) {
      await leases().deleteMany({});
      await otherRun(round + 1, new Date(Date.now() - 1));
      const tries = await Promise.allSettled([0, 1, 2].map(() => RunLease.acquire(db, REENCRYPT_LEASE)));
      const won = tries.filter((t): t is PromiseFulfilledResult<RunLease> => t.status === 'fulfilled');
      assert.equal(won.length, 1, `round ${round}: ${tries.map((t) => t.status).join(', ')}`);
      for (const t of tries) if (t.status === 'rejected') assert.ok(t.reason instanceof LeaseHeldError, String(t.reason));
      await won[0]?.value.release();
    }
  });

  /** The store as a run that read the latest generation before the others ran sees it: generation 1, expired, at its first read. */
  function readGenerationOne(): Database {
    const coll = db.collection<Document>(COLLECTIONS.storeMarkers);
    const readBefore = { sort: () => ({ limit: () => ({ toArray: async () => [{ _id: generation(1), until: new Date(0) }] }) }) };
    let read = false;
    const stalled = Object.assign(Object.create(coll) as typeof coll, {
      find: (...a: Parameters<typeof coll.find>) => (read ? coll.find(...a) : ((read = true), readBefore)),
    });
    return { ...db, collection: () => stalled } as unknown as Database;
  }

  it('a run that read the latest generation and stalled before its insert cannot take the lease a later run holds', async () => {
    const first = await RunLease.acquire(db, REENCRYPT_LEASE);
    await first.release();
    // A run that read generation 1 (expired) plans generation 2 and stalls; meanwhile another takes 2 and releases it.
    const meanwhile = await RunLease.acquire(db, REENCRYPT_LEASE);
    await meanwhile.release();
    const current = await RunLease.acquire(db, REENCRYPT_LEASE); // generation 3, generation 2 deleted
    // The stalled run wakes with what it read before the others ran (generation 1, expired): its generation 2 goes
    // in (the current run deleted the one before it), then it finds generation 3 and gives its own up.
    await assert.rejects(RunLease.acquire(readGenerationOne(), REENCRYPT_LEASE), LeaseHeldError, 'the stalled run does not hold it');
    assert.deepEqual(
      (await generations()).map((d) => d._id),
      [generation(3)],
      "its generation 2 given up, the current run's kept",
    );
    current.assertHeld();
    await current.release();
  });

  it('a run whose insert meets a generation released meanwhile reads again and takes the lease (no refusal naming an ended run)', async () => {
    const first = await RunLease.acquire(db, REENCRYPT_LEASE);
    await first.release();
    // This run read generation 1 and stalled; another took generation 2 and released it before this one's insert.
    const other = await RunLease.acquire(db, REENCRYPT_LEASE);
    await other.release();
    const lease = await RunLease.acquire(readGenerationOne(), REENCRYPT_LEASE);
    lease.assertHeld();
    assert.deepEqual(
      (await generations()).map((d) => d._id),
      [generation(3)],
    );
    await lease.release();
  });

  it('a release waits for a renewal under way: the lease stays expired, not brought back by the renewal landing after it', async () => {
    const coll = db.collection<Document>(COLLECTIONS.storeMarkers);
    let renewing = false;
    const slowRenewals = Object.assign(Object.create(coll) as typeof coll, {
      updateOne: async (...a: Parameters<typeof coll.updateOne>) => {
        if ('$max' in (a[1] as object)) {
          renewing = true;
          await new Promise((r) => setTimeout(r, 300)); // the store slow to answer this renewal
        }
        return coll.updateOne(...a);
      },
    });
    const lease = await RunLease.acquire({ ...db, collection: () => slowRenewals } as unknown as Database, REENCRYPT_LEASE, 400);
    await eventually('a renewal under way', async () => (renewing ? true : undefined), 5_000);
    await lease.release();
    // Past when the slow renewal would have landed (300 ms): still expired, so the next run need not wait.
    await holdsFor(
      'the released lease expired',
      async () => {
        const left = await generations();
        return left.length === 1 && (left[0]?.until as Date).getTime() <= Date.now();
      },
      800,
    );
  });

  it('a holder whose lease another run took finds it lost at its next renewal', async () => {
    const lease = await takenOver();
    await lease.release();
    const taker = (await generations()).find((d) => d._id === generation(2));
    assert.ok(taker?.owner === 'other-2' && (taker.until as Date).getTime() > Date.now(), "the taker's lease kept");
  });

  it('a run that lost its lease stops before its next write: no record moved, nothing re-encrypted', async () => {
    await setUnderA('inst:lost-1', true);
    await setUnderA('inst-lost-2');
    const lease = await takenOver();
    await assert.rejects(
      reencryptAll(db, parseKeyring(`${specB},${specA}`), { batchSize: 1, guard: () => lease.assertHeld() }),
      LeaseLostError,
    );
    const creds = db.collection<Document>(COLLECTIONS.credentials);
    assert.ok(await creds.findOne({ _id: 'inst:lost-1:client-inst:lost-1' as unknown } as Filter<Document>), 'the legacy record not moved');
    assert.equal(await creds.countDocuments({}), 2, 'no copy made');
    assert.equal((await countBlobsByKid(db)).A, 2, 'nothing re-encrypted');
    await lease.release();
  });

  it('the command stops with exit 1 when its process stalls past its lease (the lease checked before every write)', async () => {
    for (const id of ['inst-stall-1', 'inst-stall-2', 'inst-stall-3']) await setUnderA(id);
    const lines: string[] = [];
    const stall = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    const code = await runReencrypt(
      db,
      parseKeyring(`${specB},${specA}`),
      { batchSize: 1, dryRun: false, leaseTtlMs: 300 },
      {
        err: (line) => {
          // The first batch written: the process stalls (a paused VM) past its lease, with no renewal running.
          if (line.includes('re-encrypted') && !lines.some((l) => l.includes('re-encrypted'))) stall(400);
          lines.push(line);
        },
        out: (line) => lines.push(line),
      },
    );
    assert.equal(code, 1, lines.join('\n'));
    assert.ok(
      lines.some((l) => l.includes('this run lost its lease reencrypt-run')),
      lines.join('\n'),
    );
    assert.equal((await countBlobsByKid(db)).A, 2, 'only the first batch re-encrypted');
  });

  it('`npm run reencrypt` while another run holds the lease exits 1, names it and changes nothing; a dry run still counts', async () => {
    await setUnderA('inst-cli');
    const until = new Date(Date.now() + 60_000);
    await otherRun(3, until, 'ops-box pid 4242');
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
    await leases().deleteMany({});
    const done = run([]);
    assert.equal(done.status, 0, done.stderr);
    assert.equal((await countBlobsByKid(db)).A ?? 0, 0, 'all under B');
    const left = await generations();
    assert.ok(left.length === 1 && (left[0]?.until as Date).getTime() <= Date.now(), 'the run released (expired) its lease');
  });
});
