import assert from 'node:assert/strict';
import { chunkOrder, chunkSizes } from '../../bench/ingest';
import { mergeRuns } from '../../bench/load';

describe('bench: the ingest kinds taken in turn', () => {
  it('rotates the order every chunk, so each kind runs once in each position', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map(chunkOrder), [
      ['bare', 'service', 'floor', 'durable'],
      ['service', 'floor', 'durable', 'bare'],
      ['floor', 'durable', 'bare', 'service'],
      ['durable', 'bare', 'service', 'floor'],
      ['bare', 'service', 'floor', 'durable'],
    ]);
  });

  it('splits N into chunks that add up to N', () => {
    assert.deepEqual(chunkSizes(200, 4), [50, 50, 50, 50]);
    assert.deepEqual(chunkSizes(10, 4), [3, 3, 2, 2]);
    assert.deepEqual(chunkSizes(2, 4), [1, 1]);
  });

  it('merges chunks of one kind: counts and seconds added, the rate over their time, percentiles over every sample', () => {
    const part = (samplesMs: number[], seconds: number, failed = 0) => ({
      count: samplesMs.length + failed,
      ok: samplesMs.length,
      failed,
      seconds,
      perSecond: samplesMs.length / seconds,
      latencyMs: { p50: 0, p95: 0, p99: 0, max: 0 },
      errors: failed ? ['answered 503'] : [],
      samplesMs,
    });
    const merged = mergeRuns([part([10, 20], 1), part([30, 40, 50, 60], 1, 1)]);
    assert.equal(merged.count, 7);
    assert.equal(merged.ok, 6);
    assert.equal(merged.failed, 1);
    assert.equal(merged.seconds, 2);
    assert.equal(merged.perSecond, 3);
    assert.deepEqual(merged.latencyMs, { p50: 30, p95: 60, p99: 60, max: 60 });
    assert.deepEqual(merged.errors, ['answered 503']);
  });
});
