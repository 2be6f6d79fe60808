import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { startInstallation } from '../../src/handover/start';
import { workflowIdFor } from '../../workflows/definitions';
import { DEFAULT_INSTALLATION_OPTIONS } from '../../workflows/options';
import type { InstallationInput } from '../../workflows/installation/workflow';
import { temporalDevEnv } from '../support/servers';
import { eventually } from '../support/waits';
import { TEST_OPTIONS, useInstallationUnderTest } from './harness';

/** The options a run was started with, read from its history. */
async function startedWith(handle: WorkflowHandle): Promise<InstallationInput['options']> {
  const history = await handle.fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  assert.ok(payload, 'the run has an input');
  return defaultPayloadConverter.fromPayload<InstallationInput>(payload).options;
}

/** Tunables are fixed per run: resolved once, carried across continue-as-new, never re-read from a default. */
describe('installation workflow: tunables fixed per run', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  it('the starter resolves every tunable into the workflow input', async () => {
    const installationId = `inst-${randomBytes(4).toString('hex')}`;
    const workflowId = workflowIdFor(installationId);
    // No worker polls this queue: only the start is looked at. On the dev server: on the time-skipping one, terminating a
    // run whose first workflow task is still scheduled left time skipping locked for the tests after it (the next that
    // needed days to pass timed out, then ran on a new server).
    const dev = await temporalDevEnv();
    await startInstallation(
      { client: dev.client, taskQueue: `no-worker-${installationId}`, workflowOptions: { orderingGraceMs: 60_000 } },
      {
        eventId: 'e-1',
        type: 'app.trial_started',
        createdAt: new Date().toISOString(),
        appId: 'app-1',
        installationId,
        facts: {},
        links: {},
      },
      10_000,
    );
    const handle = dev.client.workflow.getHandle(workflowId);
    try {
      assert.deepEqual(await startedWith(handle), { ...DEFAULT_INSTALLATION_OPTIONS, orderingGraceMs: 60_000 });
    } finally {
      await handle.terminate('test finished');
    }
  });

  it('continue-as-new carries the resolved tunables, not the partial input', async () => {
    const t = await start(undefined, { maxEventsPerRun: 2 });
    const { runId: firstRun } = await t.handle.describe();
    await t.send(t.event('app.installed'), t.event('app.trial_started'));
    await eventually('a new run', async () => ((await t!.handle.describe()).runId !== firstRun ? true : undefined));
    assert.deepEqual(await startedWith(t.handle), { ...DEFAULT_INSTALLATION_OPTIONS, ...TEST_OPTIONS, maxEventsPerRun: 2 });
  });
});
