import { connectWorkerConnection } from '../temporal/connection';
import { createAppWorker } from '../worker/create-worker';
import { bootstrap, openStore, talkdeskClient } from './bootstrap';

/** Production entry point of the worker process (`npm run start:worker`). */
async function main(): Promise<void> {
  const { env, logger, keyring } = bootstrap('worker');
  const store = await openStore(env, keyring, logger);
  const { connection, namespace } = await connectWorkerConnection({ namespace: env.TEMPORAL_NAMESPACE });
  const worker = await createAppWorker({
    connection,
    namespace,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    deps: { store, talkdesk: talkdeskClient(env), logger },
    tuning: {
      maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
      maxConcurrentActivityTaskExecutions: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTaskExecutions: env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    },
  });
  // The SDK drains the worker on SIGINT/SIGTERM (finishing in-flight activities), then run() returns.
  logger.info({ taskQueue: env.TEMPORAL_TASK_QUEUE, namespace }, 'worker running');
  await worker.run();
  await connection.close();
  await store.db.close();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  console.error('worker failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
