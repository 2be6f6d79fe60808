import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WORKFLOWS_PATH } from '../../src/worker/create-worker';
import { prebuiltWorkflowBundle, workflowSourceHash, writeWorkflowBundle } from '../../src/worker/workflow-bundle';

/** On copies in a temporary folder: the suite's workers, starting in parallel, read the real bundle meanwhile. */
describe('prebuilt workflow bundle (npm run build)', function () {
  this.timeout(60_000);
  let tmp: string;
  let bundleDir: string;
  let workflowsCopy: string;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'wf-bundle-'));
    bundleDir = path.join(tmp, 'bundle');
    workflowsCopy = path.join(tmp, 'workflows');
    cpSync(path.dirname(WORKFLOWS_PATH), workflowsCopy, { recursive: true });
    await writeWorkflowBundle(bundleDir);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('is written with a manifest and then used instead of bundling at start', () => {
    const found = prebuiltWorkflowBundle(bundleDir);
    assert.ok('bundle' in found, 'reason' in found ? found.reason : '');
    const file = path.join(bundleDir, 'workflows.js');
    assert.deepEqual(found.bundle, { codePath: file });
    assert.match(readFileSync(file, 'utf8'), /installationWorkflow/);
    assert.ok('bundle' in prebuiltWorkflowBundle(bundleDir, workflowsCopy), 'same compiled files elsewhere: still current');
  });

  it('is refused once the compiled workflow code differs from what it was built from', () => {
    const original = workflowSourceHash(workflowsCopy);
    assert.equal(original, workflowSourceHash(path.dirname(WORKFLOWS_PATH)), 'same files, same hash');
    const steps = path.join(workflowsCopy, 'steps.js');
    const before = readFileSync(steps, 'utf8');
    try {
      writeFileSync(steps, before + '\n// changed\n');
      assert.notEqual(workflowSourceHash(workflowsCopy), original);
      assert.deepEqual(prebuiltWorkflowBundle(bundleDir, workflowsCopy), {
        reason: 'the prebuilt workflow bundle is older than the workflow code',
      });
    } finally {
      writeFileSync(steps, before);
    }
    writeFileSync(path.join(workflowsCopy, 'added.js'), 'export {};\n');
    assert.notEqual(workflowSourceHash(workflowsCopy), original);
    assert.ok('reason' in prebuiltWorkflowBundle(bundleDir, workflowsCopy), 'a file added: refused too');
  });

  it('is refused without its manifest, or with one that does not parse', () => {
    const manifest = path.join(bundleDir, 'manifest.json');
    const kept = readFileSync(manifest, 'utf8');
    try {
      writeFileSync(manifest, '{not json');
      assert.deepEqual(prebuiltWorkflowBundle(bundleDir), { reason: 'the prebuilt workflow bundle manifest does not parse' });
      rmSync(manifest);
      assert.deepEqual(prebuiltWorkflowBundle(bundleDir), { reason: 'no prebuilt workflow bundle (run npm run build)' });
    } finally {
      writeFileSync(manifest, kept);
    }
    assert.ok('bundle' in prebuiltWorkflowBundle(bundleDir));
  });
});
