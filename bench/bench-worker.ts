import { NativeConnection, Worker } from '@temporalio/worker';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../src/worker/cache-budget';
import { sdkTuning } from '../src/worker/create-worker';
import * as activities from './activities';

/**
 * Worker process of the bench's reference workflows (`dist/bench/bench-worker.js`):
 * same tuning variables as the service's worker, its own bundle and task queue.
 */
const int = (name: string): number | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : Number(v);
};

async function main(): Promise<void> {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233' });
  // The service worker's settings as it applies them (sdkTuning: its cache default, the poll limits as poller behaviours).
  const tuning = sdkTuning({
    maxCachedWorkflows: int('WORKER_MAX_CACHED_WORKFLOWS') ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    maxConcurrentActivityTaskExecutions: int('WORKER_MAX_CONCURRENT_ACTIVITIES'),
    maxConcurrentWorkflowTaskExecutions: int('WORKER_MAX_CONCURRENT_WORKFLOW_TASKS'),
    maxConcurrentWorkflowTaskPolls: int('WORKER_MAX_WORKFLOW_TASK_POLLS'),
    maxConcurrentActivityTaskPolls: int('WORKER_MAX_ACTIVITY_TASK_POLLS'),
  });
  const worker = await Worker.create({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: process.env.BENCH_TASK_QUEUE ?? 'bench',
    workflowsPath: require.resolve('./workflows'),
    activities,
    ...tuning,
  });
  console.log('bench worker running');
  await worker.run();
  await connection.close();
}

main().catch((err: unknown) => {
  console.error('bench worker failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
