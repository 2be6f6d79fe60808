import assert from 'node:assert/strict';
import { noopMetricMeter } from '@temporalio/common';
import { DefaultLogger, type WorkerOptions } from '@temporalio/worker';
import { compileWorkerOptions } from '@temporalio/worker/lib/worker-options';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../../src/worker/cache-budget';
import { sdkTuning, type WorkerTuning } from '../../src/worker/create-worker';

/** What the SDK makes of the worker settings (WORKER_MAX_*): its own compilation of the options, as Worker.create runs it. */
function compiled(tuning: WorkerTuning) {
  const options: WorkerOptions = { taskQueue: 'q', workflowsPath: __filename, ...sdkTuning(tuning) };
  return compileWorkerOptions(options, new DefaultLogger('ERROR'), noopMetricMeter);
}

describe('worker settings reach the SDK', () => {
  it('WORKER_MAX_WORKFLOW_TASK_POLLS and WORKER_MAX_ACTIVITY_TASK_POLLS set the pollers (SDK 1.24 ignores maxConcurrent*TaskPolls)', () => {
    const c = compiled({ maxConcurrentWorkflowTaskPolls: 3, maxConcurrentActivityTaskPolls: 4 });
    assert.deepEqual(c.workflowTaskPollerBehavior, { type: 'simple-maximum', maximum: 3 });
    assert.deepEqual(c.activityTaskPollerBehavior, { type: 'simple-maximum', maximum: 4 });
  });

  it('a poll limit above the concurrent tasks is capped to them; unset, the SDK default (10, or fewer tasks)', () => {
    const capped = compiled({
      maxConcurrentWorkflowTaskPolls: 30,
      maxConcurrentWorkflowTaskExecutions: 8,
      maxConcurrentActivityTaskPolls: 500,
    });
    assert.deepEqual(capped.workflowTaskPollerBehavior, { type: 'simple-maximum', maximum: 8 });
    assert.deepEqual(capped.activityTaskPollerBehavior, { type: 'simple-maximum', maximum: 100 });
    const defaults = compiled({ maxConcurrentWorkflowTaskExecutions: 4 });
    assert.deepEqual(defaults.workflowTaskPollerBehavior, { type: 'simple-maximum', maximum: 4 });
    assert.deepEqual(defaults.activityTaskPollerBehavior, { type: 'simple-maximum', maximum: 10 });
  });

  it('the cache and the executions as given, the cache at the service default otherwise', () => {
    assert.equal(compiled({}).maxCachedWorkflows, DEFAULT_MAX_CACHED_WORKFLOWS);
    const c = compiled({ maxCachedWorkflows: 50, maxConcurrentActivityTaskExecutions: 7, maxConcurrentWorkflowTaskExecutions: 9 });
    assert.equal(c.maxCachedWorkflows, 50);
    assert.deepEqual(c.tuner.activityTaskSlotSupplier, { type: 'fixed-size', numSlots: 7 });
    assert.deepEqual(c.tuner.workflowTaskSlotSupplier, { type: 'fixed-size', numSlots: 9 });
  });
});
