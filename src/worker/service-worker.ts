import { Client, Connection } from '@temporalio/client';
import { getHeapStatistics } from 'node:v8';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Env } from '../config/env';
import type { Logger } from '../logging/logger';
import { provisionerFromEnv } from '../partner/from-env';
import type { PartnerProvisioner } from '../partner/provisioner';
import type { Store } from '../store';
import type { TalkdeskClient } from '../talkdesk/client';
import { rethrowRefused, temporalConnectFailure } from '../temporal/connect-errors';
import { embeddedTemporalSettings, temporalSettings } from '../temporal/connection';
import { ensureReconciliationSchedule } from '../temporal/schedule';
import { searchAttributeProblems } from '../temporal/search-attributes';
import { ConfigError } from '../errors';
import { heapFlagOverriddenWarning, heapShortWarning } from './cache-budget';
import { createAppWorker } from './create-worker';
import { installRuntime } from './runtime';
import { prebuiltWorkflowBundle } from './workflow-bundle';

export interface ServiceWorker {
  worker: Worker;
  client: Client;
  run(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The worker as both entry points run it: SDK runtime (logs, Prometheus metrics),
 * connections, the reconciliation schedule, and the worker itself.
 */
export async function startServiceWorker(o: {
  env: Env;
  logger: Logger;
  store: Store;
  talkdesk: TalkdeskClient;
  address?: string;
  /** `address` is the dev server `npm start` runs itself: no profile, key or TLS (src/temporal/connection.ts). */
  embedded?: boolean;
  /** The partner's own provisioner; otherwise the one PARTNER_PROVISIONER names. */
  partner?: PartnerProvisioner;
}): Promise<ServiceWorker> {
  const { env, logger } = o;
  installRuntime(logger, env.WORKER_METRICS_BIND);
  const heapShort = heapShortWarning(env.WORKER_MAX_CACHED_WORKFLOWS, getHeapStatistics().heap_size_limit / 1_048_576);
  if (heapShort) logger.warn(heapShort);
  const overridden = heapFlagOverriddenWarning(process.env.NODE_OPTIONS, process.execArgv);
  if (overridden) logger.warn(overridden);
  const settings = o.embedded && o.address ? embeddedTemporalSettings(o.address) : temporalSettings({ address: o.address });
  const nativeConnection = await NativeConnection.connect(settings.connectionOptions).catch((err: unknown) => {
    throw temporalConnectFailure(settings.connectionOptions.address, settings.namespace, err);
  });
  const connection = await Connection.connect(settings.connectionOptions);
  const client = new Client({ connection, namespace: settings.namespace });
  await checkSearchAttributes(connection, settings.namespace, logger);
  if (env.RECONCILE_ENABLED) {
    // The first call that needs the namespace: a key without access to it is refused here, not at connect.
    const how = await ensureReconciliationSchedule(client, {
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      intervalMs: env.RECONCILE_INTERVAL_MINUTES * 60_000,
      pageSize: env.RECONCILE_PAGE_SIZE,
      parallelism: env.RECONCILE_PARALLELISM,
      activeCheckHours: env.RECONCILE_ACTIVE_CHECK_HOURS,
      talkdeskCallsPerMinute: env.RECONCILE_TALKDESK_CALLS_PER_MINUTE,
    }).catch(rethrowRefused(settings.connectionOptions.address, settings.namespace));
    logger.info({ every: `${env.RECONCILE_INTERVAL_MINUTES} min` }, `reconciliation schedule ${how.how}`);
    if (how.movedFrom !== undefined)
      logger.warn(
        { from: how.movedFrom, to: env.TEMPORAL_TASK_QUEUE },
        'reconciliation schedule taken over from another task queue: it is one per namespace, so the deployment on that queue gets no passes; give each deployment a namespace of its own',
      );
  } else {
    // The schedule is one per namespace: this process leaves it alone (other workers may manage it). To stop passes, pause it.
    logger.info('RECONCILE_ENABLED=false: the reconciliation schedule is not created or changed by this process');
  }
  const partner = o.partner ?? provisionerFromEnv(env, o.store, logger);
  logger.info({ partner: partner.kind }, 'partner provisioner');
  const prebuilt = prebuiltWorkflowBundle();
  if ('reason' in prebuilt) logger.info(`${prebuilt.reason}: bundling the workflows at start`);
  const worker = await createAppWorker({
    workflowBundle: 'bundle' in prebuilt ? prebuilt.bundle : undefined,
    connection: nativeConnection,
    namespace: settings.namespace,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    deps: { store: o.store, talkdesk: o.talkdesk, logger, partner, temporal: { client, taskQueue: env.TEMPORAL_TASK_QUEUE } },
    shutdownGraceMs: env.WORKER_SHUTDOWN_GRACE_SECONDS * 1_000,
    tuning: {
      maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
      maxConcurrentActivityTaskExecutions: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTaskExecutions: env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxConcurrentWorkflowTaskPolls: env.WORKER_MAX_WORKFLOW_TASK_POLLS,
      maxConcurrentActivityTaskPolls: env.WORKER_MAX_ACTIVITY_TASK_POLLS,
    },
    // With RECONCILE_ENABLED=false this is the first call that needs the namespace (the SDK checks it).
  }).catch(rethrowRefused(settings.connectionOptions.address, settings.namespace));
  let running: Promise<void> | undefined;
  return {
    worker,
    client,
    run: () => (running ??= worker.run()),
    async close() {
      // The SDK drains the worker on SIGINT/SIGTERM itself; only ask if it has not started.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}

/**
 * Stops the worker at start when the namespace lacks a search attribute, or has one with a type other than Keyword:
 * every installation's workflow task would fail (or its filters misbehave).
 */
async function checkSearchAttributes(connection: Connection, namespace: string, logger: Logger): Promise<void> {
  const problems = await searchAttributeProblems(connection, namespace);
  if (problems === undefined) return void logger.warn({ namespace }, "could not list the namespace's search attributes: not checked");
  if (problems.missing.length > 0)
    throw new ConfigError(
      `search attribute(s) ${problems.missing.join(', ')} are not registered on namespace ${namespace}: every installation workflow's ` +
        'task would fail until they are. Run "npm run setup:temporal" (or register them as Keyword), then start the worker again.',
    );
  if (problems.notKeyword.length > 0)
    throw new ConfigError(
      `search attribute(s) ${problems.notKeyword.join(', ')} are registered on namespace ${namespace} with a type other than ` +
        "Keyword: the installation workflows' upserts or the operators' filters would fail. Remove them (temporal operator " +
        'search-attribute remove), run "npm run setup:temporal", then start the worker again.',
    );
}
