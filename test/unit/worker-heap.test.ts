import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/local/tools';
import {
  DEFAULT_MAX_CACHED_WORKFLOWS,
  heapFlagOverriddenWarning,
  heapNeededMb,
  heapShortWarning,
  WORKER_HEAP_FLAG,
  WORKER_HEAP_LIMIT_MB,
} from '../../src/worker/cache-budget';

/** The worker's V8 heap limit (src/worker/cache-budget.ts): in its start command, and fitting the default cache. */
describe('worker heap limit', () => {
  it('is in the start command (package.json start:worker, which docker-compose.yml runs: compose.test.ts)', () => {
    const scripts = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
      .scripts;
    assert.equal(scripts['start:worker'], `node ${WORKER_HEAP_FLAG} dist/src/entry/worker.js`);
    assert.match(
      readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8'),
      new RegExp(`worker: +node ${WORKER_HEAP_FLAG} dist/src/entry/worker\\.js`),
    );
  });

  it('caps the V8 heap a process started so reports (its old space, plus the young generation)', () => {
    const out = spawnSync(process.execPath, [WORKER_HEAP_FLAG, '-e', "console.log(require('v8').getHeapStatistics().heap_size_limit)"], {
      encoding: 'utf8',
    });
    const mb = Number(out.stdout.trim()) / 1_048_576;
    assert.ok(mb >= WORKER_HEAP_LIMIT_MB && mb < WORKER_HEAP_LIMIT_MB + 100, `${mb} MiB`);
    assert.equal(heapShortWarning(DEFAULT_MAX_CACHED_WORKFLOWS, mb), undefined, 'the default cache fits it: no warning');
  });

  it('warns when the cache needs more heap than the process has, naming the flag to start it with', () => {
    assert.ok(heapNeededMb(DEFAULT_MAX_CACHED_WORKFLOWS) <= WORKER_HEAP_LIMIT_MB);
    const warning = heapShortWarning(2_310, 288);
    assert.equal(
      warning,
      `WORKER_MAX_CACHED_WORKFLOWS=2310 needs about ${heapNeededMb(2_310)} MiB of V8 heap, and this process's limit is 288 MiB: ` +
        `start the worker with node --max-old-space-size=${heapNeededMb(2_310)} (or more), or lower the cache (docs/performance.md#worker-memory).`,
    );
    assert.equal(heapShortWarning(0, 288), undefined, 'the cache off needs no more');
  });

  it('warns when NODE_OPTIONS sets a heap limit the start command overrides, not when they agree or one is absent', () => {
    assert.match(
      heapFlagOverriddenWarning('--max-old-space-size=2048', [WORKER_HEAP_FLAG]) ?? '',
      /^NODE_OPTIONS sets --max-old-space-size=2048, but the worker's start command sets --max-old-space-size=256, which wins/,
    );
    assert.equal(heapFlagOverriddenWarning(`--enable-source-maps ${WORKER_HEAP_FLAG}`, [WORKER_HEAP_FLAG]), undefined);
    assert.equal(heapFlagOverriddenWarning(undefined, [WORKER_HEAP_FLAG]), undefined);
    assert.equal(heapFlagOverriddenWarning('--max-old-space-size=2048', []), undefined);
  });
});
