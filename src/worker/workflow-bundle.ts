import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './create-worker';

/**
 * The workflow code bundled once by `npm run build`, so that a worker (re)start
 * does not spend seconds of CPU bundling it again. The bundle is used only when
 * its recorded hash matches the compiled workflow files it was built from and
 * the SDK version; anything else (a plain `tsc`, an edited workflow) falls back
 * to bundling at start, never to stale code.
 */
const WORKFLOWS_DIR = path.dirname(WORKFLOWS_PATH);
export const BUNDLE_DIR = path.resolve(WORKFLOWS_DIR, '..', 'workflow-bundle');
const CODE_FILE = path.join(BUNDLE_DIR, 'workflows.js');
const MANIFEST_FILE = path.join(BUNDLE_DIR, 'manifest.json');

interface Manifest {
  sourceHash: string;
}

function sdkVersion(): string {
  const pkg = JSON.parse(readFileSync(require.resolve('@temporalio/workflow/package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Hash of every compiled file under the workflows folder and of the SDK version the bundle includes. */
export function workflowSourceHash(dir = WORKFLOWS_DIR): string {
  const hash = createHash('sha256').update(`@temporalio/workflow@${sdkVersion()}\n`);
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.js') ? [path.join(d, e.name)] : []))
      .sort();
  for (const file of walk(dir)) hash.update(path.relative(dir, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

/** Bundles the workflows into dist/workflow-bundle/ with a manifest of what they were built from. */
export async function writeWorkflowBundle(): Promise<string> {
  const noop = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop },
  });
  mkdirSync(BUNDLE_DIR, { recursive: true });
  writeFileSync(CODE_FILE, code);
  writeFileSync(MANIFEST_FILE, JSON.stringify({ sourceHash: workflowSourceHash() } satisfies Manifest));
  return CODE_FILE;
}

/** The prebuilt bundle when it matches the compiled workflows; otherwise why not (the worker bundles at start). */
export function prebuiltWorkflowBundle(): { bundle: WorkflowBundleOption } | { reason: string } {
  if (!existsSync(CODE_FILE) || !existsSync(MANIFEST_FILE)) return { reason: 'no prebuilt workflow bundle (run npm run build)' };
  try {
    const manifest = JSON.parse(readFileSync(MANIFEST_FILE, 'utf8')) as Partial<Manifest>;
    if (manifest.sourceHash !== workflowSourceHash()) return { reason: 'the prebuilt workflow bundle is older than the workflow code' };
  } catch {
    return { reason: 'the prebuilt workflow bundle manifest does not parse' };
  }
  return { bundle: { codePath: CODE_FILE } };
}
