import os from 'node:os';
import type { WorkerTuning } from '../src/worker/create-worker';
import { ApprovalTracker } from './approvals';
import { measureEvicted } from './evicted';
import { measureIngest, round, type IngestResult } from './ingest';
import { measureLaunch } from './launch';
import { measureLifecycle, type LifecycleResult } from './lifecycle';
import { machineInfo } from './machine';
import { DEFAULT_RESULTS_DIR, effectiveTuning, intArg, arg, tuningFromEnv } from './options';
import { toText, writeResults, type BenchResult, type BenchRun, type WorkerCacheFigures } from './report';
import { measureScale, rssSnapshot, type ScaleResult } from './scale';
import { startBenchSystem } from './system';
import { workerNodeFlags } from './service-workers';

export interface BenchOptions {
  /** Events / installs / workflows per figure. */
  n: number;
  /** Requests or installs in flight at once. */
  concurrency: number;
  /** Installations active at once for the scale figure. */
  scale: number;
  /** Of `scale`, how many go through the install path; the rest are seeded (bench/seed.ts). */
  scaleInstalled: number;
  /** Installs in flight while reaching `scale`. */
  scaleConcurrency: number;
  /** Worker processes of the service; 0 = one worker in this process. */
  workerProcesses: number;
  tuning: WorkerTuning;
  resultsDir: string;
  /** Parent directory of the servers' state files (default: the OS temp dir). */
  stateDir?: string;
  /** A MongoDB of the user's own instead of the embedded FerretDB. */
  mongoUri?: string;
  /** Bound of each figure's waits. */
  timeoutMs: number;
  /** Print progress and the summary table (default true). */
  print?: boolean;
}

export const BENCH_DEFAULTS = {
  n: 200,
  concurrency: 8,
  scale: 10_000,
  scaleInstalled: 1_000,
  scaleConcurrency: 8,
  workerProcesses: 1,
} as const;

/** Options from `--n --concurrency --scale --scale-installed --scale-concurrency --workers --results --state-dir --mongodb-uri` or BENCH_* variables. */
export function benchOptionsFrom(argv: readonly string[]): BenchOptions {
  return {
    n: intArg(argv, 'n', 'BENCH_N', BENCH_DEFAULTS.n, 1),
    concurrency: intArg(argv, 'concurrency', 'BENCH_CONCURRENCY', BENCH_DEFAULTS.concurrency, 1),
    scale: intArg(argv, 'scale', 'BENCH_SCALE', BENCH_DEFAULTS.scale, 1),
    scaleInstalled: intArg(argv, 'scale-installed', 'BENCH_SCALE_INSTALLED', BENCH_DEFAULTS.scaleInstalled, 0),
    scaleConcurrency: intArg(argv, 'scale-concurrency', 'BENCH_SCALE_CONCURRENCY', BENCH_DEFAULTS.scaleConcurrency, 1),
    workerProcesses: intArg(argv, 'workers', 'BENCH_WORKERS', BENCH_DEFAULTS.workerProcesses, 0),
    tuning: tuningFromEnv(),
    resultsDir: arg(argv, 'results', 'BENCH_RESULTS_DIR') ?? DEFAULT_RESULTS_DIR,
    stateDir: arg(argv, 'state-dir', 'BENCH_STATE_DIR'),
    mongoUri: arg(argv, 'mongodb-uri', 'BENCH_MONGODB_URI'),
    timeoutMs: intArg(argv, 'timeout-ms', 'BENCH_TIMEOUT_MS', 10 * 60_000, 1_000),
  };
}

/**
 * What the worker's cache holds at scale: every open workflow up to its size, and the
 * worker's RSS growth over its idle start per cached workflow (an upper bound: the
 * growth also holds what the installs left on the heap). Per worker process.
 */
function cacheFigures(maxCachedWorkflows: number, scale: ScaleResult, workerProcesses: number): WorkerCacheFigures {
  const cached = Math.min(maxCachedWorkflows, Math.ceil(scale.openWorkflows / Math.max(1, workerProcesses)));
  // Per worker process: `worker`, or `worker1`, `worker2`… with several (the mean of those in both readings).
  const names = Object.keys(scale.rssMiB.atScale).filter((k) => /^worker\d*$/.test(k) && scale.rssMiB.baseline[k] !== undefined);
  const growth = names.length
    ? names.reduce((sum, k) => sum + (scale.rssMiB.atScale[k] ?? 0) - (scale.rssMiB.baseline[k] ?? 0), 0) / names.length
    : 0;
  return {
    maxCachedWorkflows,
    cachedAtScale: cached,
    rssGrowthMiB: round(growth, 1),
    miBPerCachedWorkflow: cached > 0 && names.length > 0 ? round(growth / cached, 3) : undefined,
  };
}

/** Runs of each comparison: ratios move between runs on a shared machine, so each is measured twice and both are reported. */
export const COMPARISON_RUNS = 2;

/**
 * The figures of `npm run bench`, each beside its reference in the same run,
 * against the real local servers; writes bench.json, bench.md and bench.svg.
 * Ingest and lifecycle run twice (`runs[]`); the top-level fields hold the second run.
 */
export async function runBench(opts: BenchOptions): Promise<{ result: BenchResult; files: { json: string; md: string; svg: string } }> {
  const print = opts.print ?? true;
  const say = (msg: string) => print && console.log(`bench: ${msg}`);
  const startedAt = new Date();
  say(`starting the servers (N=${opts.n}, C=${opts.concurrency}, K=${opts.scale})`);
  const sys = await startBenchSystem({
    workerProcesses: opts.workerProcesses,
    tuning: opts.tuning,
    web: 'process',
    noopServer: true,
    stateDir: opts.stateDir,
    mongoUri: opts.mongoUri,
    logLevel: 'info',
  });
  const approvals = new ApprovalTracker(sys.simulator);
  try {
    // The idle system's memory is the reference of the scale figure; then the workers
    // stop so that the ingest figure measures the path up to the acknowledgement alone.
    await new Promise((r) => setTimeout(r, 1_000));
    const baseline = rssSnapshot(sys);
    for (const w of [...sys.workers]) await w.stop();

    const ingests: IngestResult[] = [];
    for (let run = 1; run <= COMPARISON_RUNS; run += 1) {
      say(`1/5 ingest, run ${run} of ${COMPARISON_RUNS}`);
      ingests.push(await measureIngest(sys, opts.n, opts.concurrency));
    }
    const queued = ingests.flatMap((r) => r.installationIds);

    say('starting the workers; draining the installs the ingest queued');
    // The reference's worker first (it bundles its workflows, up to a minute): the service's workers drain from their start.
    await sys.startBenchWorker();
    const drainStart = performance.now();
    await Promise.all(Array.from({ length: Math.max(1, opts.workerProcesses) }, () => sys.startWorker()));
    const drained = await approvals.waitAll(queued, opts.timeoutMs);
    const drainSeconds = (performance.now() - drainStart) / 1000;

    const lifecycles: LifecycleResult[] = [];
    for (let run = 1; run <= COMPARISON_RUNS; run += 1) {
      say(`2/5 lifecycle, run ${run} of ${COMPARISON_RUNS}`);
      lifecycles.push(await measureLifecycle(sys, approvals, opts.n, opts.concurrency, opts.timeoutMs));
    }

    say('3/5 launch: sign-ins through the web process');
    const launch = await measureLaunch(sys, ingests[0]!.installationIds, opts.n, opts.concurrency, opts.timeoutMs);

    say(
      `4/5 scale: ${opts.scale} installations active, up to ${Math.min(opts.scale, opts.scaleInstalled)} of them installed, the rest seeded`,
    );
    const { scale, runs: scaleRuns } = await measureScale(
      sys,
      approvals,
      { target: opts.scale, installedTarget: opts.scaleInstalled },
      opts.scaleConcurrency,
      baseline,
      opts.timeoutMs,
    );

    const tuning = effectiveTuning(opts.tuning);
    const workerCache = cacheFigures(tuning.maxCachedWorkflows.value, scale, opts.workerProcesses);
    say('5/5 evicted workflow: the workers restart, then an update to installations out of the cache');
    const evictedIds = ingests.at(-1)!.installationIds.slice(0, Math.min(opts.n, 100) + 5);
    const evicted = await measureEvicted(sys, evictedIds, opts.concurrency, tuning.maxCachedWorkflows.value, opts.timeoutMs);

    const finishedAt = new Date();
    const runs: BenchRun[] = ingests.map((ingest, i) => {
      const { installationIds: _i, ...ingestFigures } = ingest;
      const { installationIds: _l, ...lifecycleFigures } = lifecycles[i]!;
      const scaleRun = scaleRuns[i];
      return { ingest: ingestFigures, lifecycle: lifecycleFigures, ...(scaleRun ? { scale: scaleRun } : {}) };
    });
    const last = runs.at(-1)!;
    const result: BenchResult = {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      seconds: round((finishedAt.getTime() - startedAt.getTime()) / 1000, 1),
      machine: machineInfo(),
      settings: {
        n: opts.n,
        concurrency: opts.concurrency,
        scale: opts.scale,
        scaleInstalled: opts.scaleInstalled,
        scaleConcurrency: opts.scaleConcurrency,
        workerProcesses: opts.workerProcesses,
        stateDir: opts.stateDir ?? os.tmpdir(),
        workerNodeFlags: opts.workerProcesses > 0 ? workerNodeFlags() : undefined,
        store: opts.mongoUri ? 'MongoDB at BENCH_MONGODB_URI' : 'FerretDB 1.24 (SQLite), embedded',
        web: 'dist/src/entry/web.js (a process)',
        tuning,
      },
      runs,
      ingest: last.ingest,
      lifecycle: {
        ...last.lifecycle,
        backlog: {
          installs: queued.length,
          approved: drained,
          seconds: round(drainSeconds, 2),
          perSecond: round(drained / drainSeconds, 1),
        },
      },
      launch,
      scale,
      workerCache,
      evicted,
    };
    const files = writeResults(opts.resultsDir, result);
    if (print) {
      console.log('');
      console.log(toText(result));
      console.log(`results: ${files.json}, ${files.md}, ${files.svg}`);
    }
    return { result, files };
  } finally {
    approvals.close();
    say('stopping the servers');
    await sys.stop();
  }
}
