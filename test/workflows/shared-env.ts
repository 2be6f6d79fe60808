// The time-skipping server and worker the workflow tests share, and their replacement after a
// failed test: the server has open defects that stall a workflow, or lock time skipping for every
// workflow after it, under load (harness.ts, retryOnceAloud); a retry on the same server can stall again.
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../src/worker/create-worker';
import { prebuiltWorkflowBundle } from '../../src/worker/workflow-bundle';
import { beforeServersStop, dropSharedTimeSkippingEnv, once, sharedTimeSkippingEnv } from '../support/servers';
import { settledWithin } from '../support/waits';
import { activitiesOf, type ActivityStubs } from './activity-stubs';

let bundle: Promise<WorkflowBundleOption> | undefined;
/** The bundle `npm run build` wrote when it matches the code, else one built once per run. */
function workflowBundle(): Promise<WorkflowBundleOption> {
  bundle ??= (async () => {
    const prebuilt = prebuiltWorkflowBundle();
    if ('bundle' in prebuilt) return prebuilt.bundle;
    const noop = () => undefined;
    const logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
    return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger });
  })();
  return bundle;
}

/** Every test's stubs, by installation id: one worker serves all the tests (a worker per test costs seconds). */
export const stubsByInstallation = new Map<string, ActivityStubs>();

let worker: Promise<{ taskQueue: string; stop: () => Promise<void> }> | undefined;
/** The shared worker's task queue; the worker stops before the server (root hook). */
export async function sharedWorker(env: TestWorkflowEnvironment): Promise<string> {
  worker ??= (async () => {
    const taskQueue = `wf-tests-${randomBytes(4).toString('hex')}`;
    const activities = activitiesOf((input) => {
      const stubs = stubsByInstallation.get(String(input.installationId));
      if (!stubs) throw ApplicationFailure.nonRetryable(`no test owns installation ${String(input.installationId)}`);
      return stubs;
    });
    const w = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
      // A stub that ignores cancellation (a test timed out holding it) must not keep the worker from stopping.
      shutdownForceTime: '10s',
    });
    // A worker that fails is reported by the next test that needs it (its workflows stall), not as an unhandled rejection.
    const running = w.run().catch((err: unknown) => console.error("the workflow tests' worker failed", err));
    const stop = once(async () => {
      if (w.getState() === 'RUNNING') w.shutdown();
      await running;
    });
    beforeServersStop(stop);
    return { taskQueue, stop };
  })();
  // A start that failed is tried again by the next test, not kept for every test after it.
  const starting = worker;
  starting.catch(() => worker === starting && (worker = undefined));
  return (await starting).taskQueue;
}

let current: TestWorkflowEnvironment | undefined;
/** The shared server the tests use now (a replacement after a failure included), with its worker running. */
export async function currentEnv(): Promise<TestWorkflowEnvironment> {
  current = await sharedTimeSkippingEnv();
  await sharedWorker(current);
  return current;
}

/** The server `currentEnv` last returned; a test calls it after its suite's `before`. */
export function lastEnv(): TestWorkflowEnvironment | undefined {
  return current;
}

let suspect: string | undefined;
/** A test failed or timed out (`why`): the next test (its retry, or the next one) starts on a new server. */
export function suspectServer(why: string): void {
  suspect ??= why;
}

/** Whether the server is to be replaced before the next test: closing the failed test's workflows need not wait on it. */
export function serverSuspect(): boolean {
  return suspect !== undefined;
}

/**
 * Before each test: after a failure, the worker and the server are stopped and new ones started (a few
 * seconds), said aloud; the failed test's workflows go with the old server.
 */
export async function freshServerIfSuspect(): Promise<void> {
  if (suspect === undefined) return;
  console.warn(`      [new server] ${suspect}: the tests from here on run on a new time-skipping server`);
  const old = worker;
  worker = undefined;
  current = undefined;
  // Bounded: a worker whose server stalled may not stop cleanly; the server is killed after it anyway.
  await settledWithin((await old?.catch(() => undefined))?.stop(), 15_000);
  await dropSharedTimeSkippingEnv();
  await currentEnv();
  suspect = undefined; // only once a new one runs: else the next test tries again
}
