import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { generateKeySpec } from '../../src/crypto/secrets';
import { PROJECT_ROOT } from '../../src/local/tools';

/**
 * `npm run reencrypt` with a MongoDB it cannot reach says so as web and worker do: the setting
 * (MONGODB_URI) and the host, never the password of the connection string, and exit 1 (run it again).
 */
describe('security: npm run reencrypt without a reachable MongoDB', function () {
  this.timeout(60_000);

  it('names MONGODB_URI, never prints its password, changes nothing and exits 1', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const run = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/entry/reencrypt.js')], {
      env: {
        PATH: process.env.PATH ?? '',
        MONGODB_URI: `mongodb://ops:hunter2-pass-word@127.0.0.1:${port}/`,
        MONGODB_DB: 'reencrypt-unreachable',
        SECRETS_KEY: generateKeySpec('k1'),
      },
      encoding: 'utf8',
      timeout: 45_000,
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `MongoDB at mongodb://127\\.0\\.0\\.1:${port}/ \\(MONGODB_URI\\) cannot be reached: .*run it again \\(nothing was changed\\)`,
      ),
    );
    assert.ok(!`${run.stderr}${run.stdout}`.includes('hunter2-pass-word'), 'the password is never printed');
  });
});
