import { DefaultLogger, Runtime } from '@temporalio/worker';
import { benchOptionsFrom, runBench } from './run-bench';

/**
 * `npm run bench`: the figures (bench/run-bench.ts) against the real local servers. Settings from
 * --n/--concurrency/--scale/--scale-concurrency/--workers/--results/--state-dir or
 * BENCH_N, BENCH_CONCURRENCY, BENCH_SCALE, BENCH_SCALE_CONCURRENCY, BENCH_WORKERS,
 * BENCH_RESULTS_DIR, BENCH_STATE_DIR; worker settings from WORKER_MAX_*.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // Child processes are killed and the state directory removed by the exit hooks.
  process.once(signal, () => process.exit(130));
}

runBench(benchOptionsFrom(process.argv.slice(2))).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench failed:', err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
