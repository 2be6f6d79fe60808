import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
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
const codeFile = (dir: string) => path.join(dir, 'workflows.js');
const manifestFile = (dir: string) => path.join(dir, 'manifest.json');

/** Written beside, then renamed over: a worker starting meanwhile reads the old file or the new, never half of one. */
function writeWhole(file: string, text: string): void {
  const part = `${file}.${process.pid}.part`;
  writeFileSync(part, text);
  renameSync(part, file);
}

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

/** Bundles the workflows into dist/workflow-bundle/ (`dir`: elsewhere) with a manifest of what they were built from. */
export async function writeWorkflowBundle(dir = BUNDLE_DIR): Promise<string> {
  const noop = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop },
  });
  mkdirSync(dir, { recursive: true });
  // The code first: a manifest never names code that is not there yet.
  writeWhole(codeFile(dir), code);
  writeWhole(manifestFile(dir), JSON.stringify({ sourceHash: workflowSourceHash() } satisfies Manifest));
  return codeFile(dir);
}

/**
 * The prebuilt bundle when it matches the compiled workflows; otherwise why not (the worker bundles at start).
 * `dir` and `workflowsDir`: the bundle's folder and the compiled workflows it must match (tests use copies).
 */
export function prebuiltWorkflowBundle(
  dir = BUNDLE_DIR,
  workflowsDir = WORKFLOWS_DIR,
): { bundle: WorkflowBundleOption } | { reason: string } {
  if (!existsSync(codeFile(dir)) || !existsSync(manifestFile(dir))) return { reason: 'no prebuilt workflow bundle (run npm run build)' };
  try {
    const manifest = JSON.parse(readFileSync(manifestFile(dir), 'utf8')) as Partial<Manifest>;
    if (manifest.sourceHash !== workflowSourceHash(workflowsDir))
      return { reason: 'the prebuilt workflow bundle is older than the workflow code' };
  } catch {
    return { reason: 'the prebuilt workflow bundle manifest does not parse' };
  }
  return { bundle: { codePath: codeFile(dir) } };
}
