import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBench } from '../../bench/run-bench';
import { startBenchSystem } from '../../bench/system';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../../src/worker/cache-budget';
import { connectDatabase } from '../../src/store';
import { mongoUri } from '../support/servers';
import { eventually } from '../support/waits';

/** `npm run bench` in a tiny configuration, so that it cannot rot. */
describe('bench (tiny configuration: N=10, C=4, K=100 with those beyond the first figures seeded)', function () {
  // A bound on the whole run, not a timed assertion: each comparison runs twice, then launch, scale and the evicted figure.
  this.timeout(300_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-results-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('measures each figure beside its reference (ingest and lifecycle twice, launch, scale, evicted workflow) and writes JSON, Markdown and SVG', async () => {
    const { result, files } = await runBench({
      n: 10,
      concurrency: 4,
      scale: 100,
      scaleInstalled: 0,
      scaleConcurrency: 8,
      workerProcesses: 1,
      tuning: {},
      resultsDir: dir,
      timeoutMs: 120_000,
      print: false,
    });
    for (const file of [files.json, files.md, files.svg]) assert.ok(existsSync(file), `${file} written`);
    assert.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')), JSON.parse(JSON.stringify(result)));
    assert.match(readFileSync(files.svg, 'utf8'), /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>\n$/);
    assert.match(readFileSync(files.md, 'utf8'), /\| Ingest: acks\/s/);

    const positive = (name: string, x: number | undefined) =>
      assert.ok(typeof x === 'number' && Number.isFinite(x) && x > 0, `${name} = ${x}`);
    // A ratio is its two figures' quotient (rounded as the bench rounds), so one computed upside down or from another fails.
    const quotient = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const { ingest, lifecycle, scale, runs, launch, evicted } = result;
    // Each comparison twice; the top-level fields (which dashboards read) are the second run's.
    assert.equal(runs?.length, 2);
    for (const [k, run] of runs.entries()) {
      assert.equal(run.ingest.service.ok, 10, `run ${k + 1}: every event acknowledged`);
      assert.equal(run.lifecycle.service.ok, 10, `run ${k + 1}: every install approved`);
      assert.equal(run.lifecycle.reference.ok, 10, `run ${k + 1}: every no-op workflow completed`);
      // Scale too: a steady-state pass and the memory read before it, per run.
      const pass = run.scale?.reconciliation;
      assert.ok(pass?.available && pass.error === undefined, `run ${k + 1}: its steady-state pass`);
      positive(`run ${k + 1} reconciliation seconds`, pass.seconds);
      positive(`run ${k + 1} worker RSS at scale`, run.scale?.rssMiB.atScale.worker);
      assert.equal(run.scale?.active, 100);
      positive(`run ${k + 1} ingest ratio`, run.ingest.ratio);
      positive(`run ${k + 1} lifecycle ratio`, run.lifecycle.ratio);
      const { service, bareSignalWithStart: bare, floor, durableFloor } = run.ingest;
      assert.deepEqual(
        [
          run.ingest.ratio,
          run.ingest.p99Ratio,
          run.ingest.floorRatio,
          run.ingest.ratioVsFloor,
          run.ingest.durableFloorRatio,
          run.ingest.ratioVsDurableFloor,
          run.lifecycle.ratio,
          run.lifecycle.p50Ratio,
        ],
        [
          quotient(service.perSecond, bare.perSecond),
          quotient(service.latencyMs.p99, bare.latencyMs.p99),
          quotient(floor.perSecond, bare.perSecond),
          quotient(service.perSecond, floor.perSecond),
          quotient(durableFloor.perSecond, bare.perSecond),
          quotient(service.perSecond, durableFloor.perSecond),
          quotient(run.lifecycle.service.perSecond, run.lifecycle.reference.perSecond),
          quotient(run.lifecycle.service.latencyMs.p50, run.lifecycle.reference.latencyMs.p50),
        ],
        `run ${k + 1}: each ratio is its figures' quotient`,
      );
      // The web and the store work only in the service's run, the Temporal server in both.
      for (const name of ['temporal', 'web', 'ferretdb'])
        positive(`run ${k + 1} ${name} CPU per event`, run.ingest.cpuSecondsPerEvent[name]);
      positive(`run ${k + 1} Temporal CPU per bare signalWithStart`, run.ingest.bareCpuSecondsPerSignalWithStart.temporal);
      // Every acknowledged event was stored, handed over and marked inside the web process.
      for (const step of ['store', 'handover', 'mark']) positive(`run ${k + 1} ${step} ms per event`, run.ingest.callbackStepsMs[step]);
      // The floor: every event acknowledged by the bare callback server, its ratios computed.
      assert.equal(run.ingest.floor.ok, 10, `run ${k + 1}: every event acknowledged by the floor`);
      // Taken in turn, in chunks: every kind's chunks add up to N.
      assert.equal(run.ingest.durableFloor.ok, 10, `run ${k + 1}: every event acknowledged by the durable floor`);
      assert.equal(run.ingest.chunks, 4);
      assert.equal(run.ingest.bareSignalWithStart.ok, 10, `run ${k + 1}: every bare signalWithStart answered`);
      positive(`run ${k + 1} floor ratio`, run.ingest.floorRatio);
      positive(`run ${k + 1} service / floor`, run.ingest.ratioVsFloor);
      positive(`run ${k + 1} Temporal CPU per floor event`, run.ingest.floorCpuSecondsPerEvent.temporal);
      positive(`run ${k + 1} durable floor ratio`, run.ingest.durableFloorRatio);
      positive(`run ${k + 1} service / durable floor`, run.ingest.ratioVsDurableFloor);
      // Its one insert per event (FerretDB's CPU for 10 inserts can be below /proc's tick: counted instead).
      assert.equal(run.ingest.durableFloorStored, 10, `run ${k + 1}: every event the durable floor acknowledged is stored`);
    }
    assert.deepEqual(ingest, runs[1]!.ingest);
    const { backlog: _b, ...lastLifecycle } = lifecycle;
    assert.deepEqual(lastLifecycle, runs[1]!.lifecycle);
    assert.notDeepEqual(runs[0]!.lifecycle, runs[1]!.lifecycle, 'two distinct runs');
    // scale.active, scale.rssMiB and scale.reconciliation.seconds (which dashboards read) are the second run's as well.
    assert.deepEqual(
      [scale.active, scale.rssMiB, scale.reconciliation],
      [runs[1]!.scale?.active, runs[1]!.scale?.rssMiB, runs[1]!.scale?.reconciliation],
    );
    assert.notEqual(runs[0]!.scale?.reconciliation, undefined);
    assert.notDeepEqual(runs[0]!.scale?.reconciliation, runs[1]!.scale?.reconciliation, 'two distinct passes');
    for (const name of ['temporal', 'ferretdb', 'worker', 'web', 'simulator+load']) {
      positive(`CPU seconds per install of ${name}`, lifecycle.cpuSecondsPerInstall[name]);
    }
    assert.match(readFileSync(files.md, 'utf8'), /CPU seconds per install, by process/);
    assert.deepEqual(result.settings.tuning.maxCachedWorkflows, { value: DEFAULT_MAX_CACHED_WORKFLOWS, source: 'service default' });
    // Launch: every sign-in reached the first page, beside as many bare simulator round trips.
    assert.ok(launch);
    assert.equal(launch.service.ok, 10, 'every sign-in reached /app');
    assert.equal(launch.reference.ok, 10);
    assert.equal(launch.floor.ok, 10, 'every sign-in through the bare server reached its /app');
    positive('floor p95', launch.floor.latencyMs.p95);
    assert.equal(launch.p95VsFloor, quotient(launch.service.latencyMs.p95, launch.floor.latencyMs.p95));
    assert.equal(launch.p95Ratio, quotient(launch.service.latencyMs.p95, launch.reference.latencyMs.p95));
    positive('the bare server CPU per sign-in', launch.floorCpuSecondsPerSignIn.web ?? 0);
    assert.ok(launch.talkdeskRoundTrips >= 2, `${launch.talkdeskRoundTrips} simulator calls per sign-in`);
    positive('sign-ins per second', launch.service.perSecond);
    positive('p95 launch to first page', launch.service.latencyMs.p95);
    positive('reference p95', launch.reference.latencyMs.p95);
    positive('launch p95 ratio', launch.p95Ratio);
    // Evicted: every update approved, out of the cache (after a worker restart) and in it.
    assert.ok(evicted);
    assert.equal(evicted.evicted.ok, 10);
    assert.equal(evicted.cached.ok, 10);
    positive('evicted update p50', evicted.evicted.latencyMs.p50);
    positive('cached update p50', evicted.cached.latencyMs.p50);
    assert.equal(evicted.maxCachedWorkflows, DEFAULT_MAX_CACHED_WORKFLOWS);
    assert.equal(result.workerCache?.cachedAtScale, Math.min(DEFAULT_MAX_CACHED_WORKFLOWS, scale.openWorkflows));
    assert.ok(result.workerCache.miBPerCachedWorkflow !== undefined && Number.isFinite(result.workerCache.miBPerCachedWorkflow));
    for (const [name, m] of Object.entries({ ingest: ingest.service, bare: ingest.bareSignalWithStart, noop: ingest.noopKoa })) {
      assert.equal(m.ok, 10, `${name}: every request answered`);
      positive(`${name} per second`, m.perSecond);
      positive(`${name} p50`, m.latencyMs.p50);
      positive(`${name} p99`, m.latencyMs.p99);
    }
    positive('ingest ratio', ingest.ratio);
    assert.equal(lifecycle.service.ok, 10, 'every install approved');
    positive('installs per second', lifecycle.service.perSecond);
    positive('median event to approval', lifecycle.service.latencyMs.p50);
    positive('three no-ops per second', lifecycle.reference.perSecond);
    positive('lifecycle ratio', lifecycle.ratio);
    assert.equal(lifecycle.backlog.approved, lifecycle.backlog.installs, 'the queued installs were all approved');
    // The first figures installed 60 (two ingest runs of 10 + 10 warm-ups, two lifecycle runs of 10); the rest up to 100 are seeded, and must be as real as the installed ones.
    assert.ok(scale.approved >= 50 && scale.approved < 100, `${scale.approved} installed`);
    assert.equal(scale.seeded?.seeded, 100 - scale.approved, JSON.stringify(scale.seeded));
    assert.equal(scale.active, 100);
    assert.ok(scale.openWorkflows >= 100, `${scale.openWorkflows} workflows open`);
    for (const name of ['temporal', 'ferretdb', 'web', 'worker']) {
      positive(`RSS of ${name} at start`, scale.rssMiB.baseline[name]);
      positive(`RSS of ${name} at scale`, scale.rssMiB.atScale[name]);
    }
    assert.ok(scale.reconciliation.available);
    assert.equal(scale.reconciliation.error, undefined);
    positive('reconciliation seconds', scale.reconciliation.seconds);
    // Every installation's workflow was running and Talkdesk showed it completed: nothing to repair.
    const pass = scale.reconciliation.result as { scanned: number; counts: Record<string, number> };
    assert.equal(pass.scanned, 100);
    assert.deepEqual(pass.counts, { resumed: 0, reapproved: 0, deprovisioned: 0, markedActive: 0, updatesEnded: 0, drift: 0, errors: 0 });
    // Two passes: the first after the mass install, then the steady state (the figure above); each with its Talkdesk counts.
    const { burst } = scale.reconciliation;
    assert.ok(burst, 'the first pass after the mass install is reported beside the steady one');
    assert.equal(burst.error, undefined);
    positive('first pass seconds', burst.seconds);
    for (const [name, p] of Object.entries({ steady: scale.reconciliation, first: burst })) {
      assert.ok(typeof p.due === 'number' && typeof p.checked === 'number' && typeof p.deferred === 'number', JSON.stringify(p));
      assert.equal(p.checked + p.deferred, p.due, `${name}: every due installation read or deferred (nothing to repair)`);
    }
    assert.ok((scale.reconciliation.due ?? 0) >= 1, 'the steady state has one in 97 due');
    assert.match(readFileSync(files.md, 'utf8'), /steady state \(s\)[^\n]*Talkdesk: \d+ due[\s\S]*first pass after the mass install/);
    assert.ok(result.machine.cores > 0 && result.machine.cpuModel.length > 0);
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
