import { existsSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { AppError } from '../errors';

/** Project root, found from this compiled file (dist/src/local) or its source (src/local). */
export const PROJECT_ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new AppError('package.json not found above ' + __dirname);
    dir = parent;
  }
  return dir;
})();

export class ToolMissingError extends AppError {}

function onPath(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where an embedded tool lives: an explicit environment override, then the pinned copy
 * `scripts/setup.sh` installed, then (for the Temporal CLI, e.g. in a container image
 * without .tools) one on PATH. The pinned copy first: another CLI version on PATH may
 * lack flags the dev server is started with.
 */
export function toolPath(name: 'temporal' | 'temporal-test-server' | 'ferretdb'): string {
  const override = process.env[`${name.toUpperCase().replace(/-/g, '_')}_PATH`];
  if (override) return override;
  const local = path.join(PROJECT_ROOT, '.tools', 'bin', name);
  if (existsSync(local)) return local;
  if (name === 'temporal') {
    const found = onPath('temporal');
    if (found) return found;
  }
  throw new ToolMissingError(`${name} not found: run "npm run setup" (scripts/setup.sh) to install it under .tools/bin`);
}
