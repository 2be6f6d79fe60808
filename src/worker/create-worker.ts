import { Worker, type NativeConnection, type WorkerOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, sanitiseFailures, type ActivityDeps } from '../../activities';
import type { PartnerProvisioner } from '../partner/provisioner';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from './cache-budget';

export const WORKFLOWS_PATH = require.resolve('../../workflows');

export interface WorkerTuning {
  /** Default DEFAULT_MAX_CACHED_WORKFLOWS (a memory budget), not the SDK's heap-derived size. */
  maxCachedWorkflows?: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  /** Pollers: at most the matching executions (`sdkTuning` caps them). */
  maxConcurrentWorkflowTaskPolls?: number;
  maxConcurrentActivityTaskPolls?: number;
}

/** The service's worker: the installation workflow and every activity, on one task queue. */
export function createAppWorker(options: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /**
   * The partner's own provisioner object, for a partner that builds the worker in
   * code; it wins over `deps.partner` (PARTNER_PROVISIONER) and the built-in default.
   */
  partner?: PartnerProvisioner;
  tuning?: WorkerTuning;
  identity?: string;
  /** A prebuilt bundle (from `npm run build`, or built once by tests); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkflowBundleOption;
  /**
   * How long a stopping worker lets its running activities finish before cancelling them (WORKER_SHUTDOWN_GRACE_SECONDS
   * in the service). The SDK's default, 0, cancels them at once: a partner call aborted mid-request, sent again.
   */
  shutdownGraceMs?: number;
}): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(options.partner ? { ...options.deps, partner: options.partner } : options.deps),
    // No raw error, secret or stack of an activity reaches history (activities/failures.ts).
    interceptors: { activity: [sanitiseFailures] },
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.shutdownGraceMs ? { shutdownGraceTime: options.shutdownGraceMs } : {}),
    // reuseV8Context (one V8 context shared by every cached workflow) is the SDK 1.24 default, and what the cache budget was measured with.
    ...sdkTuning(options.tuning ?? {}),
  });
}

/** The SDK 1.24 defaults the poll limits are capped by (its own default of 10 polls is capped the same way). */
export const SDK_DEFAULT_WORKFLOW_TASKS = 40;
export const SDK_DEFAULT_ACTIVITIES = 100;

/**
 * The SDK's options for `tuning`. The poll limits go through poller behaviours: SDK 1.24 still
 * declares `maxConcurrent*TaskPolls` but no longer reads them (it polls 10 at most whatever they say).
 */
export function sdkTuning(tuning: WorkerTuning): Partial<WorkerOptions> {
  const { maxConcurrentWorkflowTaskPolls: workflowPolls, maxConcurrentActivityTaskPolls: activityPolls, ...rest } = tuning;
  const polls = (n: number | undefined, executions: number) =>
    n === undefined ? undefined : ({ type: 'simple-maximum', maximum: Math.min(n, executions) } as const);
  const workflowTaskPollerBehavior = polls(workflowPolls, rest.maxConcurrentWorkflowTaskExecutions ?? SDK_DEFAULT_WORKFLOW_TASKS);
  const activityTaskPollerBehavior = polls(activityPolls, rest.maxConcurrentActivityTaskExecutions ?? SDK_DEFAULT_ACTIVITIES);
  return {
    maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS,
    ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
    ...(workflowTaskPollerBehavior ? { workflowTaskPollerBehavior } : {}),
    ...(activityTaskPollerBehavior ? { activityTaskPollerBehavior } : {}),
  };
}
