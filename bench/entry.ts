import { DefaultLogger, Runtime } from '@temporalio/worker';

/** A bench script run on its own: the SDK's logs at WARN, Ctrl-C or SIGTERM end it, an error exits 1. */
export function runBenchEntry(main: () => Promise<void>, what = 'bench'): void {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`${what} failed:`, err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
