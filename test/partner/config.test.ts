import assert from 'node:assert/strict';
import { loadEnv } from '../../src/config/env';
import { ConfigError } from '../../src/errors';

const base = {
  TALKDESK_APP_ID: 'app1',
  TALKDESK_WEBHOOK_SECRET: 'a-webhook-secret-of-length',
  SECRETS_KEY: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
};

describe('partner provisioner configuration', () => {
  it('defaults to the built-in MongoDB provisioner, 500 users a page, 10 s per hook', () => {
    const env = loadEnv(base);
    assert.equal(env.PARTNER_PROVISIONER, 'mongodb');
    assert.equal(env.PARTNER_HOOKS_PAGE_SIZE, 500);
    assert.equal(env.PARTNER_HOOKS_TIMEOUT_MS, 10_000);
    assert.equal(env.PARTNER_HOOKS_URL, undefined);
  });

  it('takes a plain-http URL (trusted configuration) and several secrets, the first one signing', () => {
    const env = loadEnv({
      ...base,
      PARTNER_PROVISIONER: 'http',
      PARTNER_HOOKS_URL: 'http://10.0.0.5:8080/hooks',
      PARTNER_HOOKS_SECRET: 'new-secret-0123456789, old-secret-0123456789',
    });
    assert.equal(env.PARTNER_HOOKS_URL, 'http://10.0.0.5:8080/hooks');
    assert.deepEqual(env.PARTNER_HOOKS_SECRET, ['new-secret-0123456789', 'old-secret-0123456789']);
  });

  it('names what http needs, and refuses short secrets and other schemes without echoing them', () => {
    assert.throws(
      () => loadEnv({ ...base, PARTNER_PROVISIONER: 'http' }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /PARTNER_HOOKS_URL: required when PARTNER_PROVISIONER=http/);
        assert.match(err.message, /PARTNER_HOOKS_SECRET: required when PARTNER_PROVISIONER=http/);
        return true;
      },
    );
    assert.throws(
      () => loadEnv({ ...base, PARTNER_PROVISIONER: 'http', PARTNER_HOOKS_URL: 'ftp://x/hooks', PARTNER_HOOKS_SECRET: 'shortsecret' }),
      (err: Error) => {
        assert.match(err.message, /PARTNER_HOOKS_URL: must be an http:\/\/ or https:\/\/ URL/);
        assert.match(err.message, /PARTNER_HOOKS_SECRET: each comma-separated secret must be at least 16 characters/);
        assert.ok(!err.message.includes('shortsecret'));
        return true;
      },
    );
    assert.throws(() => loadEnv({ ...base, PARTNER_PROVISIONER: 'rest' }), /PARTNER_PROVISIONER/);
    // Node's fetch refuses such a URL: every hook would fail for seven days as "could not reach the partner".
    const secret = 'hook-secret-of-sixteen-chars';
    assert.throws(
      () =>
        loadEnv({
          ...base,
          PARTNER_PROVISIONER: 'http',
          PARTNER_HOOKS_URL: 'https://bob:hunter22@partner.example/hooks',
          PARTNER_HOOKS_SECRET: secret,
        }),
      (err: Error) => {
        assert.match(err.message, /PARTNER_HOOKS_URL: must not carry a user or password/);
        assert.ok(!err.message.includes('hunter22'));
        return true;
      },
    );
  });

  it('refuses a hook timeout the activity sending the hook would cut short (60 s): at most 50 s', () => {
    assert.equal(loadEnv({ ...base, PARTNER_HOOKS_TIMEOUT_MS: '50000' }).PARTNER_HOOKS_TIMEOUT_MS, 50_000);
    for (const value of ['50001', '60000', '600000']) {
      assert.throws(
        () => loadEnv({ ...base, PARTNER_HOOKS_TIMEOUT_MS: value }),
        (err: Error) => {
          assert.ok(err instanceof ConfigError);
          assert.match(
            err.message,
            /PARTNER_HOOKS_TIMEOUT_MS: must be at most 50000 \(ms\): a hook may be sent from an activity .* 60000 ms/,
          );
          assert.match(err.message, /set a lower value/);
          return true;
        },
      );
    }
  });
});
