import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { loadEnv } from '../../src/config/env';
import { PROJECT_ROOT } from '../../src/local/tools';
import { signHubSignature, type HubAlgorithm } from '../../src/web/signature';
import { WEBHOOK_SECRET } from '../support/system';
import { BASE_ENV, configError, JSON_HEADERS, freshEvent, send, startLightWeb, type LightWeb, useLightWeb } from './support';

/**
 * Production safety (issue 15): DEV_SKIP_SIGNATURE_CHECK is refused in production
 * whatever HOST; the HMAC algorithms are configurable with sha1 opt-in; an event
 * from the future or older than the inbox retention is refused.
 */

const DAY = 86_400_000;

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('security: production safety', function () {
  this.timeout(60_000);

  describe('DEV_SKIP_SIGNATURE_CHECK with NODE_ENV=production', () => {
    it('is a configuration error whatever HOST', () => {
      for (const HOST of ['127.0.0.1', '0.0.0.0', '::1']) {
        const message = configError({ NODE_ENV: 'production', HOST, DEV_SKIP_SIGNATURE_CHECK: 'true' });
        assert.match(message, /DEV_SKIP_SIGNATURE_CHECK: must not be true when NODE_ENV=production/);
      }
      // Outside production it is still allowed (with its warning), and off is fine in production.
      assert.equal(loadEnv({ ...BASE_ENV, NODE_ENV: 'development', DEV_SKIP_SIGNATURE_CHECK: 'true' }).DEV_SKIP_SIGNATURE_CHECK, true);
      assert.equal(loadEnv({ ...BASE_ENV, NODE_ENV: 'production', DEV_SKIP_SIGNATURE_CHECK: 'false' }).DEV_SKIP_SIGNATURE_CHECK, false);
    });

    it('makes the web process exit 2 at start-up with a message, on loopback too', async () => {
      const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/entry/web.js')], {
        env: {
          PATH: process.env.PATH ?? '',
          ...BASE_ENV,
          NODE_ENV: 'production',
          HOST: '127.0.0.1',
          PORT: '0',
          DEV_SKIP_SIGNATURE_CHECK: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      clearTimeout(timer);
      assert.equal(code, 2, stderr);
      assert.match(stderr, /DEV_SKIP_SIGNATURE_CHECK: must not be true when NODE_ENV=production/);
    });
  });

  describe('CALLBACK_HMAC_ALGORITHMS', () => {
    it('defaults to sha256,sha512; sha1 only when listed; anything else is refused', () => {
      assert.deepEqual(loadEnv(BASE_ENV).CALLBACK_HMAC_ALGORITHMS, ['sha256', 'sha512']);
      assert.deepEqual(loadEnv({ ...BASE_ENV, CALLBACK_HMAC_ALGORITHMS: 'sha1, sha256,sha1' }).CALLBACK_HMAC_ALGORITHMS, [
        'sha1',
        'sha256',
      ]);
      assert.match(
        configError({ CALLBACK_HMAC_ALGORITHMS: 'sha256,md5' }),
        /CALLBACK_HMAC_ALGORITHMS: must be a comma list of sha1, sha256, sha512/,
      );
      assert.match(configError({ CALLBACK_HMAC_ALGORITHMS: ',' }), /CALLBACK_HMAC_ALGORITHMS: must name at least one algorithm/);
    });

    describe('over HTTP', () => {
      let byDefault: LightWeb;
      let withSha1: LightWeb;
      before(async () => {
        byDefault = await startLightWeb();
        withSha1 = await startLightWeb({ hmacAlgorithms: ['sha1', 'sha256'] });
      });
      after(async () => {
        await byDefault?.close();
        await withSha1?.close();
      });

      const post = async (server: LightWeb, alg: HubAlgorithm) => {
        const raw = JSON.stringify(freshEvent());
        return send(server.web.url, raw, {
          headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET, alg) },
        });
      };

      it('refuses sha1 by default and accepts sha256 and sha512', async () => {
        assert.equal((await post(byDefault, 'sha1')).status, 401);
        assert.equal((await post(byDefault, 'sha256')).status, 200);
        assert.equal((await post(byDefault, 'sha512')).status, 200);
      });

      it('accepts exactly the configured algorithms', async () => {
        assert.equal((await post(withSha1, 'sha1')).status, 200);
        assert.equal((await post(withSha1, 'sha256')).status, 200);
        assert.equal((await post(withSha1, 'sha512')).status, 401);
      });
    });
  });

  describe('created_at bounds (EVENT_MAX_FUTURE_SKEW_SECONDS, INBOX_RETENTION_DAYS)', () => {
    let web: LightWeb;
    useLightWeb((w) => (web = w), { maxFutureSkewSeconds: 300, inboxRetentionDays: 30 });

    const post = async (createdAt: string) => {
      const event = freshEvent();
      event.created_at = createdAt;
      const raw = JSON.stringify(event);
      const answer = await send(web.web.url, raw, {
        headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) },
      });
      return { answer, stored: await web.store.inbox.get(event.id) };
    };

    it('parses the settings with their defaults and refuses a retention shorter than 8 days', () => {
      const env = loadEnv(BASE_ENV);
      assert.equal(env.EVENT_MAX_FUTURE_SKEW_SECONDS, 300);
      assert.equal(env.INBOX_RETENTION_DAYS, 30);
      assert.match(configError({ INBOX_RETENTION_DAYS: '7' }), /INBOX_RETENTION_DAYS: must be at least 8/);
      assert.match(configError({ EVENT_MAX_FUTURE_SKEW_SECONDS: '-1' }), /EVENT_MAX_FUTURE_SKEW_SECONDS: /);
    });

    it('refuses a signed event from the far future (year 9999) or beyond the skew: 400 event_from_future, nothing stored', async () => {
      for (const createdAt of ['9999-12-31T23:59:59Z', isoSeconds(Date.now() + 400_000)]) {
        const { answer, stored } = await post(createdAt);
        assert.equal(answer.status, 400, answer.text);
        assert.equal(answer.json?.error?.code, 'event_from_future');
        assert.equal(answer.json?.error?.field, 'created_at');
        assert.equal(stored, null);
      }
    });

    it('accepts an event slightly ahead of our clock, within the skew', async () => {
      const { answer, stored } = await post(isoSeconds(Date.now() + 200_000));
      assert.equal(answer.status, 200, answer.text);
      assert.ok(stored);
    });

    it('refuses an event older than the retention window: 400 event_too_old, nothing stored', async () => {
      for (const createdAt of ['2016-06-14T16:23:07Z', isoSeconds(Date.now() - 31 * DAY)]) {
        const { answer, stored } = await post(createdAt);
        assert.equal(answer.status, 400, answer.text);
        assert.equal(answer.json?.error?.code, 'event_too_old');
        assert.equal(stored, null);
      }
      const { answer } = await post(isoSeconds(Date.now() - 29 * DAY));
      assert.equal(answer.status, 200, answer.text);
    });
  });
});
