import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loadEnv } from '../../src/config/env';
import { generateKeySpec } from '../../src/crypto/secrets';
import { ConfigError } from '../../src/errors';
import { PROJECT_ROOT } from '../../src/local/tools';

const VALID = { TALKDESK_APP_ID: 'app1', TALKDESK_WEBHOOK_SECRET: 'a-webhook-secret-of-some-length', SECRETS_KEY: generateKeySpec('k1') };

describe('configuration from the environment', () => {
  it('gives every optional variable its documented default', () => {
    const env = loadEnv(VALID);
    assert.equal(env.PORT, 3000);
    assert.equal(env.TEMPORAL_TASK_QUEUE, 'appconnect-lifecycle');
    assert.equal(env.MONGODB_DB, 'appconnect');
    assert.ok(env.TALKDESK_ALLOWED_HOSTS.includes('api.talkdeskapp.com'));
    assert.equal(env.DEV_SKIP_SIGNATURE_CHECK, false);
  });

  it('names each missing or malformed variable, without echoing secret values', () => {
    const bad = { ...VALID, TALKDESK_APP_ID: undefined, PORT: 'eighty', MONGODB_URI: 'postgres://x', TALKDESK_WEBHOOK_SECRET: 'short' };
    assert.throws(
      () => loadEnv(bad),
      (err: unknown) =>
        err instanceof ConfigError &&
        /TALKDESK_APP_ID/.test(err.message) &&
        /PORT/.test(err.message) &&
        /MONGODB_URI/.test(err.message) &&
        /TALKDESK_WEBHOOK_SECRET/.test(err.message) &&
        !err.message.includes('short'),
    );
  });

  it('stops a process at start-up with exit code 2 and a message naming the variable', () => {
    for (const entry of ['web', 'worker']) {
      const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, `dist/src/entry/${entry}.js`)], {
        env: { PATH: process.env.PATH, ...VALID, SECRETS_KEY: undefined },
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(res.status, 2, `${entry}: ${res.stderr}`);
      assert.match(res.stderr, /SECRETS_KEY/);
    }
  });
});
