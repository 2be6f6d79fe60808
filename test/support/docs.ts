import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/local/tools';

/** Reading README.md and docs/ for the tests that check them against the code. */

export const source = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
export const readme = source('README.md');
const DOCS = path.join(PROJECT_ROOT, 'docs');
/** Every page under docs/, by file name. */
export const docs = new Map(
  readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => [f, source(path.join('docs', f))] as const),
);
export const doc = (name: string): string => {
  const text = docs.get(name);
  assert.ok(text !== undefined, `docs/${name} is missing`);
  return text;
};
/** The README and every docs page: where a public name may be documented. */
export const allDocs = [readme, ...docs.values()].join('\n');

/** The text of a `## Title` section of `text` (the README by default), up to the next `## ` heading. */
export function section(title: string, text = readme): string {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  assert.ok(start >= 0, `no "## ${title}" section`);
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

/** Body rows of every Markdown table in `text` (header and separator rows dropped), as trimmed cells. */
export function tableRows(text: string): string[][] {
  const isSeparator = (l: string | undefined) => l !== undefined && /^\|[\s|:-]+\|$/.test(l);
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  return lines
    .filter((l, i) => l.startsWith('|') && !isSeparator(l) && !isSeparator(lines[i + 1]))
    .map((l) =>
      l
        .slice(1, l.endsWith('|') ? -1 : undefined)
        .split('|')
        .map((c) => c.trim()),
    );
}

/** The name in a cell written as `NAME`, or undefined. */
export const codeName = (cell: string | undefined) => /^`([^`]+)`$/.exec(cell ?? '')?.[1];
