import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { eventSignal, stateQuery, workflowIdFor, type LifecycleEvent } from '../../workflows/definitions';
import { temporalDevEnv } from '../support/servers';
import { workflowBundle } from '../support/system';
import { eventually } from '../support/waits';
import { ActivityStubs, TEST_OPTIONS, clientIdFor, stubbedActivities } from '../workflows/harness';

/**
 * Hypothesis (a) of the soak's held workflow tasks: more installations in progress than the
 * worker's cache, each running local store steps, so the core evicts runs for others.
 * The core drops the workflow task of a run it evicts while a local activity runs (the task times
 * out and is retried): every install must still finish, with no step sent twice. On the dev server,
 * in real time: on the time-skipping server the dropped tasks' timeouts let the clock jump to the
 * phases' deadlines while nothing else runs.
 */
describe('installation workflow: local store steps under cache pressure', function () {
  // Its waits add up to 210 s (each dropped task waits out its 10 s timeout): failing, they say what they saw.
  this.timeout(300_000);
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await temporalDevEnv();
  });

  it('five installs on a worker caching two: each finishes, provisioned and approved once', async () => {
    const taskQueue = `cache-${randomBytes(4).toString('hex')}`;
    // Store steps slow enough that runs wait on them while others need the cache.
    const slow = <T>(value: T) => new Promise<T>((r) => setTimeout(() => r(value), 600));
    const stubs = new ActivityStubs()
      .on('loadInstallation', () => slow(null))
      .on('recordInstallation', () => slow(undefined))
      .on('importCredentials', (i) => slow({ clientId: clientIdFor(String(i.eventId)), keyId: 'key-1', keyAlgorithm: 'ES256' }));
    const activities = stubbedActivities(stubs);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
      maxCachedWorkflows: 2,
      maxConcurrentWorkflowTaskExecutions: 2,
    });
    const ids = Array.from({ length: 5 }, () => `inst-${randomBytes(4).toString('hex')}`);
    await worker.runUntil(async () => {
      const t0 = Date.now();
      for (const installationId of ids) {
        const event: LifecycleEvent = {
          eventId: `installed-${installationId}`,
          type: 'app.installed',
          createdAt: new Date(t0).toISOString(),
          appId: 'app-1',
          installationId,
          accountId: 'acct-1',
          accountName: 'Acme',
          facts: {},
          links: { root: 'https://api.talkdesk.test', tokens: 'https://acme.talkdesk.test/oauth/token' },
        };
        // As the web process hands an event over: started with its first event, in one workflow task.
        await env.client.workflow.signalWithStart('installationWorkflow', {
          workflowId: workflowIdFor(installationId),
          taskQueue,
          args: [{ installationId, options: TEST_OPTIONS }],
          signal: eventSignal,
          signalArgs: [event],
        });
      }
      // Queries replay evicted runs (and evict others, dropping their local activities): poll the stubs first.
      await eventually('every install approved', async () => (stubs.stateCalls().length >= ids.length ? true : undefined), 120_000);
      await eventually(
        'every install active',
        async () => {
          const views = await Promise.all(ids.map((id) => env.client.workflow.getHandle(workflowIdFor(id)).query(stateQuery)));
          return views.every((v) => v.phase === 'active' && !v.currentStep) ? views : undefined;
        },
        90_000,
      );
    });
    // Each install provisioned and approved once: a workflow task the eviction dropped sent no commands.
    assert.equal(stubs.of('provisionAccount').length, ids.length);
    assert.deepEqual(
      stubs.stateCalls(),
      ids.map(() => 'approve:install'),
    );
    // Every history the eviction shaped replays: a workflow task the core completed for an evicted run (a local
    // activity's marker with none of the code after it) must not change what the code does on replay.
    const bundle = await workflowBundle();
    let timedOutTasks = 0;
    for (const id of ids) {
      const history = await env.client.workflow.getHandle(workflowIdFor(id)).fetchHistory();
      timedOutTasks += (history.events ?? []).filter((e) => e.workflowTaskTimedOutEventAttributes).length;
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, `replay-${id}`);
    }
    // The pressure this test is about happened (a positive control): at least one task dropped by an eviction timed out.
    assert.ok(timedOutTasks >= 1, 'no workflow task timed out: no run was evicted with a local activity in flight');
    // Workflow tasks the core dropped timed out and were retried: docs/performance.md ("Workflow tasks held by a slow
    // local store step").
    for (const id of ids) await env.client.workflow.getHandle(workflowIdFor(id)).terminate('test finished');
  });
});
