import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../src/local/tools';
import { workflowBundle } from '../support/system';
import { REQUIRED_IN_CORPUS, type RawHistory } from './corpus-checks';

const DIR = path.join(PROJECT_ROOT, 'test', 'histories');
const recorded = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => {
    const raw = JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as RawHistory;
    return { name: f.replace(/\.json$/, ''), raw, history: historyFromJSON(raw) };
  });

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

  it('has recordings of continue-as-new, reconcile, retryNow and the timers firing', () => {
    const missing = Object.entries(REQUIRED_IN_CORPUS)
      .filter(([, holds]) => !recorded.some((r) => holds(r.raw)))
      .map(([what]) => what);
    assert.deepEqual(missing, [], `no recording in test/histories holds: ${missing.join('; ')} (see docs/versioning.md)`);
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
