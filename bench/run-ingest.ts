import { measureIngest } from './ingest';
import { intArg, tuningFromEnv } from './options';
import { startBenchSystem } from './system';
import { runBenchEntry } from './entry';

/**
 * `node dist/bench/run-ingest.js`: the ingest figure alone (bench/ingest.ts), run twice, quicker than the
 * whole bench, with the CPU each process spends per acknowledged event beside a bare signalWithStart's.
 * BENCH_N events (200), BENCH_CONCURRENCY (8). With BENCH_CPU_PROFILE_DIR the web process leaves a CPU profile.
 */

const argv = process.argv.slice(2);
const n = intArg(argv, 'n', 'BENCH_N', 200, 1);
const concurrency = intArg(argv, 'concurrency', 'BENCH_CONCURRENCY', 8, 1);

async function main(): Promise<void> {
  const sys = await startBenchSystem({
    workerProcesses: 1,
    startWorkers: false,
    tuning: tuningFromEnv(),
    web: 'process',
    noopServer: true,
  });
  try {
    for (const run of [1, 2]) {
      const r = await measureIngest(sys, n, concurrency);
      const l = (m: { p50: number; p95: number; p99: number }) => `${Math.round(m.p50)} / ${Math.round(m.p95)} / ${Math.round(m.p99)} ms`;
      console.log(`bench: ingest run ${run}: ${r.service.perSecond} acks/s, p50/p95/p99 ${l(r.service.latencyMs)}`);
      console.log(`bench:   bare signalWithStart ${r.bareSignalWithStart.perSecond}/s, p50/p95/p99 ${l(r.bareSignalWithStart.latencyMs)}`);
      console.log(
        `bench:   ratio ${r.ratio}, p99 ratio ${Math.round((r.service.latencyMs.p99 / r.bareSignalWithStart.latencyMs.p99) * 100) / 100}`,
      );
      console.log(`bench:   CPU seconds per event ${JSON.stringify(r.cpuSecondsPerEvent)}`);
      console.log(`bench:   ms per event by step in the web process ${JSON.stringify(r.callbackStepsMs)}`);
      console.log(
        `bench:   floor (no store) ${r.floor.perSecond} acks/s, p50/p95/p99 ${l(r.floor.latencyMs)}: ${r.floorRatio}x bare; service ${r.ratioVsFloor}x the floor`,
      );
      console.log(`bench:   CPU seconds per event of the floor ${JSON.stringify(r.floorCpuSecondsPerEvent)}`);
      console.log(
        `bench:   durable floor (one insert) ${r.durableFloor.perSecond} acks/s, p50/p95/p99 ${l(r.durableFloor.latencyMs)}: ${r.durableFloorRatio}x bare; service ${r.ratioVsDurableFloor}x the durable floor`,
      );
      console.log(
        `bench:   CPU seconds per event of the durable floor ${JSON.stringify(r.durableFloorCpuSecondsPerEvent)} (${r.durableFloorStored} records stored)`,
      );
      console.log(`bench:   CPU seconds per bare signalWithStart ${JSON.stringify(r.bareCpuSecondsPerSignalWithStart)}`);
    }
  } finally {
    await sys.stop();
  }
}

runBenchEntry(main);
