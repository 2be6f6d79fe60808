import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { warningsIn } from '../../bench/soak/report';

describe("soak report: a failed run's warnings and errors", () => {
  it('keeps the last warning, error and fatal lines of each log (and a worker that failed to start), named by file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'soak-log-tail-'));
    try {
      const worker = path.join(dir, 'worker-1.log');
      writeFileSync(
        worker,
        [
          '{"level":"info","msg":"worker running"}',
          '{"level":"warn","msg":"activity failed","error":"MongoServerSelectionError"}',
          '{"level":"debug","msg":"noise"}',
          '{"level":"error","msg":"store client stuck"}',
          'worker failed: connect ECONNREFUSED 127.0.0.1:1',
        ].join('\n'),
      );
      writeFileSync(path.join(dir, 'web.log'), `${'{"level":"fatal","msg":"x"}'}\n${'{"level":"info","msg":"y"}'}\n`);
      const tail = warningsIn([worker, path.join(dir, 'web.log'), path.join(dir, 'missing.log')]);
      assert.deepEqual(tail, [
        'worker-1.log: {"level":"warn","msg":"activity failed","error":"MongoServerSelectionError"}',
        'worker-1.log: {"level":"error","msg":"store client stuck"}',
        'worker-1.log: worker failed: connect ECONNREFUSED 127.0.0.1:1',
        'web.log: {"level":"fatal","msg":"x"}',
      ]);
      assert.equal(warningsIn([worker], 1).length, 1, 'only the last lines are kept');
      assert.deepEqual(
        warningsIn([worker, path.join(dir, 'web.log')], 2),
        ['worker-1.log: worker failed: connect ECONNREFUSED 127.0.0.1:1', 'web.log: {"level":"fatal","msg":"x"}'],
        'a share per file: a busy log does not hide the others',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
