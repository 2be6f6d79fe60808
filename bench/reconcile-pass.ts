import { DefaultLogger, Runtime } from '@temporalio/worker';
import { intArg } from './options';
import { measureReconciliation } from './reconcile';
import { seedActiveInstallations } from './seed';
import { startBenchSystem } from './system';

/**
 * The reconciliation figure alone (`node dist/bench/reconcile-pass.js --scale 2000`):
 * seeds `--scale` active installations (bench/seed.ts), then times two passes one
 * after the other and counts the Talkdesk installation reads of each. The full bench
 * measures it after its other figures; this reaches it in minutes on a busy machine.
 */
async function main(argv: string[]): Promise<void> {
  const scale = intArg(argv, 'scale', 'BENCH_SCALE', 2_000, 1);
  const passes = intArg(argv, 'passes', 'BENCH_PASSES', 2, 1);
  const sys = await startBenchSystem({ workerProcesses: 1, tuning: {}, web: 'process', logLevel: 'info' });
  try {
    const seeded = await seedActiveInstallations(sys, scale, 8, 30 * 60_000);
    console.log(`seeded ${seeded.seeded} in ${seeded.writeSeconds}+${seeded.startSeconds} s (${seeded.failed} failed)`);
    for (let i = 1; i <= passes; i += 1) {
      const before = sys.simulator.calls.filter((c) => c.route === 'installation').length;
      const pass = await measureReconciliation(sys, 30 * 60_000);
      const gets = sys.simulator.calls.filter((c) => c.route === 'installation').length - before;
      console.log(JSON.stringify({ pass: i, scale, talkdeskGets: gets, ...pass }));
    }
  } finally {
    await sys.stop();
  }
}

Runtime.install({ logger: new DefaultLogger('WARN') });
main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('reconcile-pass failed:', err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
