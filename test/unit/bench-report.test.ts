import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/local/tools';
import { summaryRows, type BenchResult } from '../../bench/report';

/** The committed full run, as the report reads it. */
function committed(): BenchResult {
  return JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'bench/results/bench.json'), 'utf8')) as BenchResult;
}

const rowOf = (rows: string[][], label: string | RegExp): string[] => {
  const row = rows.find(([name]) => (typeof label === 'string' ? name === label : label.test(name ?? '')));
  assert.ok(row, `a row ${String(label)}`);
  return row;
};

describe('bench: the summary rows', () => {
  it('gives the lifecycle p95 its ratio to the reference p95', () => {
    const r = committed();
    const [, service, reference, ratio] = rowOf(summaryRows(r), 'Lifecycle: p95 event → approval (ms)');
    assert.equal(service, `${r.lifecycle.service.latencyMs.p95}`);
    assert.match(reference ?? '', new RegExp(`${r.lifecycle.reference.latencyMs.p95}$`));
    assert.equal(ratio, `${Math.round((r.lifecycle.service.latencyMs.p95 / r.lifecycle.reference.latencyMs.p95) * 100) / 100}`);
  });

  it("sums the workers' RSS in each run's row when several workers ran (worker1, worker2)", () => {
    const r = committed();
    const runs = r.runs ?? [];
    assert.ok(runs.length === 2 && runs[1]?.scale, 'the committed run has two runs with a scale figure');
    runs[1]!.scale!.rssMiB.atScale = { worker1: 100.5, worker2: 50, temporal: 900 };
    const row = rowOf(summaryRows(r), /^Run 2 of 2/);
    assert.match(row[1] ?? '', /; 150\.5, /);
  });
});
