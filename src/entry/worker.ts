import { DEFAULT_MONGODB_URI } from '../config/env';
import { temporalSettings } from '../temporal/connection';
import { pingWithNewClient } from '../store';
import { watchStore } from '../store/watchdog';
import { startServiceWorker } from '../worker/service-worker';
import { stopWhenStuck } from '../worker/stuck-exit';
import { bootstrap, exitOnFailure, onSignals, openStore, talkdeskClient } from './bootstrap';

/** Production entry point of the worker process (`npm run start:worker`). */
async function main(): Promise<void> {
  const { env, logger, keyring } = bootstrap('worker');
  const uri = env.MONGODB_URI ?? DEFAULT_MONGODB_URI;
  const store = await openStore(env, keyring, logger);
  const service = await startServiceWorker({ env, logger, store, talkdesk: talkdeskClient(env) });
  let stuck = false;
  const watchdog =
    env.WORKER_STORE_STUCK_SECONDS > 0
      ? watchStore({
          ping: () => store.ping(),
          pingFresh: () => pingWithNewClient(uri, env.MONGODB_DB),
          stuckAfterMs: env.WORKER_STORE_STUCK_SECONDS * 1_000,
          everyMs: 5_000,
          logger,
          // In place first: the cached workflows and running activities stay on this worker.
          reconnect: () => store.db.reconnect(),
          onStuck: () => {
            stuck = true;
            stopWhenStuck(service.worker, { graceMs: env.WORKER_SHUTDOWN_GRACE_SECONDS * 1_000, logger });
          },
        })
      : undefined;
  logger.info({ taskQueue: env.TEMPORAL_TASK_QUEUE, namespace: temporalSettings().namespace }, 'worker running');
  // The SDK drains the worker on SIGINT/SIGTERM (in-flight activities get WORKER_SHUTDOWN_GRACE_SECONDS), then run()
  // returns. It stops listening at the first: the same Ctrl-C forwarded by npm a moment later killed the process
  // mid-drain (Node's default). Listened for here for the process's life: a repeat at once is ignored, a later one exits.
  onSignals(logger, (signal) => logger.info({ signal }, 'stopping: running activities finish first'));
  await service.run();
  await watchdog?.stop();
  await service.close();
  await store.db.close();
  logger.info('worker stopped');
  // Non-zero, so that a supervisor restarting only failed processes starts a new one.
  if (stuck) process.exit(1);
}

// A setting found wrong only at start (WORKER_METRICS_BIND taken) exits 2, as for any bad setting.
main().catch(exitOnFailure('worker'));
