import { startServiceWorker } from '../worker/service-worker';
import { bootstrap, openStore, talkdeskClient } from './bootstrap';

/** Production entry point of the worker process (`npm run start:worker`). */
async function main(): Promise<void> {
  const { env, logger, keyring } = bootstrap('worker');
  const store = await openStore(env, keyring, logger);
  const service = await startServiceWorker({ env, logger, store, talkdesk: talkdeskClient(env) });
  logger.info({ taskQueue: env.TEMPORAL_TASK_QUEUE, namespace: env.TEMPORAL_NAMESPACE }, 'worker running');
  // The SDK drains the worker on SIGINT/SIGTERM (finishing in-flight activities), then run() returns.
  await service.run();
  await service.close();
  await store.db.close();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  console.error('worker failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
