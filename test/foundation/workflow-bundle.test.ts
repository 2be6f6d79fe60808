import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WORKFLOWS_PATH } from '../../src/worker/create-worker';
import { prebuiltWorkflowBundle, workflowSourceHash, writeWorkflowBundle } from '../../src/worker/workflow-bundle';

describe('prebuilt workflow bundle (npm run build)', function () {
  this.timeout(60_000);

  it('is written with a manifest and then used instead of bundling at start', async () => {
    const file = await writeWorkflowBundle();
    const found = prebuiltWorkflowBundle();
    assert.ok('bundle' in found, 'reason' in found ? found.reason : '');
    assert.deepEqual(found.bundle, { codePath: file });
    assert.match(readFileSync(file, 'utf8'), /installationWorkflow/);
  });

  it('is refused once the compiled workflow code differs from what it was built from', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wf-hash-'));
    try {
      cpSync(path.dirname(WORKFLOWS_PATH), dir, { recursive: true });
      const original = workflowSourceHash(dir);
      assert.equal(original, workflowSourceHash(path.dirname(WORKFLOWS_PATH)), 'same files, same hash');
      const steps = path.join(dir, 'steps.js');
      writeFileSync(steps, readFileSync(steps, 'utf8') + '\n// changed\n');
      assert.notEqual(workflowSourceHash(dir), original);
      writeFileSync(path.join(dir, 'added.js'), 'export {};\n');
      assert.notEqual(workflowSourceHash(dir), original);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
