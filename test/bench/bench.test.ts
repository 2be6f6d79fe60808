import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBench } from '../../bench/run-bench';
import { startBenchSystem } from '../../bench/system';
import { connectDatabase } from '../../src/store';
import { mongoUri } from '../support/servers';
import { eventually } from '../support/waits';

/** `npm run bench` in a tiny configuration, so that it cannot rot. */
describe('bench (tiny configuration: N=20, C=4, K=80 with those beyond the first figures seeded)', function () {
  this.timeout(115_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-results-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('measures the three figures beside their references and writes JSON, Markdown and SVG', async () => {
    const { result, files } = await runBench({
      n: 20,
      concurrency: 4,
      scale: 80,
      scaleInstalled: 0,
      scaleConcurrency: 8,
      workerProcesses: 1,
      tuning: {},
      resultsDir: dir,
      timeoutMs: 60_000,
      print: false,
    });
    for (const file of [files.json, files.md, files.svg]) assert.ok(existsSync(file), `${file} written`);
    assert.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')), JSON.parse(JSON.stringify(result)));
    assert.match(readFileSync(files.svg, 'utf8'), /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>\n$/);
    assert.match(readFileSync(files.md, 'utf8'), /\| Ingest: acks\/s/);

    const positive = (name: string, x: number | undefined) =>
      assert.ok(typeof x === 'number' && Number.isFinite(x) && x > 0, `${name} = ${x}`);
    const { ingest, lifecycle, scale } = result;
    for (const [name, m] of Object.entries({ ingest: ingest.service, bare: ingest.bareSignalWithStart, noop: ingest.noopKoa })) {
      assert.equal(m.ok, 20, `${name}: every request answered`);
      positive(`${name} per second`, m.perSecond);
      positive(`${name} p50`, m.latencyMs.p50);
      positive(`${name} p99`, m.latencyMs.p99);
    }
    positive('ingest ratio', ingest.ratio);
    assert.equal(lifecycle.service.ok, 20, 'every install approved');
    positive('installs per second', lifecycle.service.perSecond);
    positive('median event to approval', lifecycle.service.latencyMs.p50);
    positive('three no-ops per second', lifecycle.reference.perSecond);
    positive('lifecycle ratio', lifecycle.ratio);
    assert.equal(lifecycle.backlog.approved, lifecycle.backlog.installs, 'the queued installs were all approved');
    // The first two figures installed some; the rest up to 80 are seeded, and must be as real as the installed ones.
    assert.ok(scale.approved >= 40 && scale.approved < 80, `${scale.approved} installed`);
    assert.equal(scale.seeded?.seeded, 80 - scale.approved, JSON.stringify(scale.seeded));
    assert.equal(scale.active, 80);
    assert.ok(scale.openWorkflows >= 80, `${scale.openWorkflows} workflows open`);
    for (const name of ['temporal', 'ferretdb', 'web', 'worker']) {
      positive(`RSS of ${name} at start`, scale.rssMiB.baseline[name]);
      positive(`RSS of ${name} at scale`, scale.rssMiB.atScale[name]);
    }
    assert.ok(scale.reconciliation.available);
    assert.equal(scale.reconciliation.error, undefined);
    positive('reconciliation seconds', scale.reconciliation.seconds);
    // Every installation's workflow was running and Talkdesk showed it completed: nothing to repair.
    const pass = scale.reconciliation.result as { scanned: number; counts: Record<string, number> };
    assert.equal(pass.scanned, 80);
    assert.deepEqual(pass.counts, { resumed: 0, reapproved: 0, deprovisioned: 0, markedActive: 0, updatesEnded: 0, drift: 0, errors: 0 });
    assert.ok(result.machine.cores > 0 && result.machine.cpuModel.length > 0);
    assert.ok(result.settings.tuning.maxCachedWorkflows.value > 0);
  });
});

describe("bench system on a MongoDB of the user's own (BENCH_MONGODB_URI)", function () {
  this.timeout(90_000);

  it('uses a database of its own there, starts no FerretDB, and drops the database at the end', async () => {
    const uri = await mongoUri();
    const sys = await startBenchSystem({ workerProcesses: 0, tuning: {}, web: 'in-process', mongoUri: uri });
    let dbName = '';
    try {
      dbName = sys.store.db.db.databaseName;
      assert.match(dbName, /^appconnect_bench_/);
      assert.equal(sys.mongo.uri, uri);
      assert.equal(sys.mongo.pid(), undefined, 'no FerretDB of its own');
      await assert.rejects(sys.mongo.restart(), /cannot be restarted/);
      const { installation, event } = sys.simulator.createInstallation();
      assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
      await eventually(
        'installed',
        async () => ((await sys.store.installations.get(installation.id))?.phase === 'active' ? true : undefined),
        60_000,
      );
    } finally {
      await sys.stop();
    }
    const admin = await connectDatabase(uri, 'admin');
    try {
      const { databases } = await admin.db.admin().listDatabases();
      assert.ok(!databases.some((d) => d.name === dbName), `${dbName} dropped`);
    } finally {
      await admin.close();
    }
  });
});
