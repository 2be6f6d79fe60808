import { DefaultLogger, Runtime } from '@temporalio/worker';
import { runSoak, soakOptionsFrom } from './run-soak';

/**
 * `npm run soak`: settings from --installations/--in-flight/--workers/--deadline-minutes/--seed
 * or SOAK_INSTALLATIONS, SOAK_IN_FLIGHT, SOAK_WORKERS, SOAK_DEADLINE_MINUTES, SOAK_SEED;
 * exits 1 on any violation.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // Child processes are killed and the state directory removed by the exit hooks.
  process.once(signal, () => process.exit(130));
}

runSoak(soakOptionsFrom(process.argv.slice(2))).then(
  (report) => process.exit(report.ok ? 0 : 1),
  (err: unknown) => {
    console.error('soak failed:', err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
