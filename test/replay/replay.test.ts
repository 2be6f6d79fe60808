import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../src/local/tools';
import { workflowBundle } from '../support/system';

const DIR = path.join(PROJECT_ROOT, 'test', 'histories');
const recorded = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ name: f.replace(/\.json$/, ''), history: historyFromJSON(JSON.parse(readFileSync(path.join(DIR, f), 'utf8'))) }));

const noop = () => undefined;
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

describe('replay of recorded histories against the current workflow code', function () {
  this.timeout(120_000);

  it('has recordings of every phase to replay', () => {
    assert.ok(recorded.length >= 5, `found ${recorded.length} recordings in test/histories`);
    const all = JSON.stringify(recorded.map((r) => r.history));
    for (const activity of [
      'provisionAccount',
      'applyUpdate',
      'acknowledgeCredentials',
      'switchCredentials',
      'deprovisionAccount',
      'undoProvisioning',
      'recordTrial',
    ]) {
      assert.ok(all.includes(activity), `a recording exercises ${activity}`);
    }
  });

  for (const { name, history } of recorded) {
    it(`replays ${name}`, async () => {
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `replay-${name}`);
    });
  }

  it('catches a deliberately non-deterministic change', async () => {
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../fixtures/nondeterministic'),
      logger: quiet,
    });
    const first = recorded[0];
    assert.ok(first);
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: bundle }, first.history, 'replay-nondeterministic'),
      (err: unknown) => err instanceof DeterminismViolationError,
    );
  });
});
