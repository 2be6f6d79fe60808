import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/local/tools';

/**
 * The measurable shape of issue 11, kept from rotting: no source file outside the
 * simulator grows past 350 lines (split it by responsibility instead), and the
 * workflow and activity code does not drop its types with casts.
 */

const MAX_LINES = 350;
const MAX_TYPE_ERASING_CASTS = 2;
/** `as unknown as X` and `as never`: each throws away what the compiler knows. */
const TYPE_ERASING_CAST = /\bas\s+(unknown\s+as|never)\b/g;

/** The TypeScript files git tracks (a checkout without git: every .ts file outside node_modules and dist). */
function trackedTypeScript(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--', '*.ts'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    return out.split('\0').filter((f) => f.length > 0);
  } catch {
    const walk = (dir: string): string[] =>
      readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
        const rel = dir === '.' ? e.name : `${dir}/${e.name}`;
        if (e.isDirectory()) return ['node_modules', 'dist', '.git', '.tools'].includes(e.name) ? [] : walk(rel);
        return e.name.endsWith('.ts') ? [rel] : [];
      });
    return walk('.');
  }
}

const files = trackedTypeScript();
const lines = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8').replace(/\n$/, '').split('\n').length;

describe('shape of the code base', () => {
  it('finds the code base (the checks below read real files)', () => {
    assert.ok(files.includes('workflows/definitions.ts'), `workflows/definitions.ts among ${files.length} files`);
    assert.ok(files.some((f) => f.startsWith('activities/')));
  });

  it(`keeps every source file outside src/simulator/ at most ${MAX_LINES} lines`, () => {
    const tooLong = files
      .filter((f) => !f.startsWith('src/simulator/'))
      .map((f) => ({ file: f, lines: lines(f) }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.file} (${f.lines})`);
    assert.deepEqual(tooLong, [], `split these by responsibility into files named for what they hold`);
  });

  it(`has at most ${MAX_TYPE_ERASING_CASTS} type-erasing casts in workflows/ and activities/`, () => {
    const casts = files
      .filter((f) => f.startsWith('workflows/') || f.startsWith('activities/'))
      .flatMap((f) =>
        readFileSync(path.join(PROJECT_ROOT, f), 'utf8')
          .split('\n')
          .flatMap((line, i) => [...line.matchAll(TYPE_ERASING_CAST)].map(() => `${f}:${i + 1}: ${line.trim()}`)),
      );
    assert.ok(casts.length <= MAX_TYPE_ERASING_CASTS, `type the call instead:\n${casts.join('\n')}`);
  });

  it('recognises the casts it counts, and not the words in prose', () => {
    const count = (text: string) => [...text.matchAll(TYPE_ERASING_CAST)].length;
    assert.equal(count('const a = b as unknown as C; f(x as never);'), 2);
    assert.equal(count('an update that was never approved; known as unknown'), 0);
  });
});
