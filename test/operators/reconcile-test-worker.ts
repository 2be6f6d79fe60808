import { randomBytes } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkerOptions } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../src/worker/create-worker';
import { prebuiltWorkflowBundle } from '../../src/worker/workflow-bundle';
import { timeSkippingEnv } from '../support/servers';

/** A time-skipping server of the suite's own, started before its tests and torn down after; returns its getter. */
export function useOwnTimeSkippingEnv(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  before(async function () {
    this.timeout(120_000);
    env = await timeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });
  return () => {
    if (!env) throw new Error('the time-skipping server did not start');
    return env;
  };
}

/** A worker of the workflows (the reconciliation pass among them) on a task queue of its own, with stubbed `activities`. */
export async function reconcileTestWorker(
  env: TestWorkflowEnvironment,
  activities: object,
  name: string,
  extra: Pick<WorkerOptions, 'interceptors'> = {},
): Promise<{ worker: Worker; taskQueue: string }> {
  const prebuilt = prebuiltWorkflowBundle();
  const noop = () => undefined;
  const logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
  const workflowBundle = 'bundle' in prebuilt ? prebuilt.bundle : await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger });
  const taskQueue = `${name}-${randomBytes(4).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle,
    activities,
    shutdownGraceTime: '1 second',
    ...extra,
  });
  return { worker, taskQueue };
}
