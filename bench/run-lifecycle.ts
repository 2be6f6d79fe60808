import { ApprovalTracker } from './approvals';
import { measureLifecycle } from './lifecycle';
import { intArg, tuningFromEnv } from './options';
import { startBenchSystem } from './system';
import { runBenchEntry } from './entry';

/**
 * `node dist/bench/run-lifecycle.js`: the lifecycle figure alone (bench/lifecycle.ts), run twice, quicker than the
 * whole bench: installs from the signed event to the approval beside workflows of three no-op activities, with the
 * CPU each process spends per install. BENCH_N installs (200), BENCH_CONCURRENCY (8). With BENCH_CPU_PROFILE_DIR
 * the web and worker processes leave a CPU profile.
 */

const argv = process.argv.slice(2);
const n = intArg(argv, 'n', 'BENCH_N', 200, 1);
const concurrency = intArg(argv, 'concurrency', 'BENCH_CONCURRENCY', 8, 1);

async function main(): Promise<void> {
  const sys = await startBenchSystem({ workerProcesses: 1, tuning: tuningFromEnv(), web: 'process', noopServer: true });
  const approvals = new ApprovalTracker(sys.simulator);
  try {
    await sys.startBenchWorker();
    for (const run of [1, 2]) {
      const r = await measureLifecycle(sys, approvals, n, concurrency, 300_000);
      const l = (m: { p50: number; p95: number }) => `${Math.round(m.p50)} / ${Math.round(m.p95)} ms`;
      console.log(`bench: lifecycle run ${run}: ${r.service.perSecond} installs/s, p50/p95 ${l(r.service.latencyMs)}`);
      console.log(`bench:   three no-op activities ${r.reference.perSecond}/s, p50/p95 ${l(r.reference.latencyMs)}`);
      console.log(`bench:   ratio ${r.ratio}, p50 ratio ${r.p50Ratio}`);
      console.log(`bench:   CPU seconds per install ${JSON.stringify(r.cpuSecondsPerInstall)}`);
    }
  } finally {
    approvals.close();
    await sys.stop();
  }
}

runBenchEntry(main);
