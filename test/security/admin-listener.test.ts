import assert from 'node:assert/strict';
import { loadEnv } from '../../src/config/env';
import { cachedReadiness, type Readiness } from '../../src/web/admin';
import { signHubSignature } from '../../src/web/signature';
import { WEBHOOK_SECRET } from '../support/system';
import { BASE_ENV, JSON_HEADERS, freshEvent, send, type LightWeb, useLightWeb } from './support';

/**
 * /readyz and /metrics live on the admin listener (ADMIN_HOST:ADMIN_PORT, loopback
 * by default), not on the public port, which keeps only a cheap /healthz; readiness
 * is cached so that probes cannot turn into a ping storm (issue 15).
 */

describe('security: admin listener', function () {
  this.timeout(60_000);

  it('defaults to 127.0.0.1:9465, not the worker metrics port 9464', () => {
    const env = loadEnv(BASE_ENV);
    assert.equal(env.ADMIN_HOST, '127.0.0.1');
    assert.equal(env.ADMIN_PORT, 9465);
    assert.notEqual(String(env.ADMIN_PORT), env.WORKER_METRICS_BIND.split(':').pop());
    assert.throws(() => loadEnv({ ...BASE_ENV, ADMIN_PORT: '70000' }), /ADMIN_PORT: /);
  });

  describe('over HTTP', () => {
    let web: LightWeb;
    useLightWeb((w) => (web = w));

    it('the public port answers /healthz but not /readyz or /metrics', async () => {
      assert.equal((await send(web.web.url, undefined, { method: 'GET', path: '/healthz' })).status, 200);
      for (const path of ['/readyz', '/metrics']) {
        const answer = await send(web.web.url, undefined, { method: 'GET', path });
        assert.equal(answer.status, 404, `${path} on the public port`);
        assert.ok(!answer.text.includes('process_'), 'no process details');
      }
    });

    it('the admin listener, on loopback by default, answers readiness and metrics, with the security headers', async () => {
      const admin = new URL(web.web.adminUrl);
      assert.equal(admin.hostname, '127.0.0.1');
      assert.notEqual(admin.port, new URL(web.web.url).port);
      const raw = JSON.stringify(freshEvent());
      const accepted = await send(web.web.url, raw, {
        headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) },
      });
      assert.equal(accepted.status, 200);

      const ready = await send(web.web.adminUrl, undefined, { method: 'GET', path: '/readyz' });
      assert.equal(ready.status, 200, ready.text);
      assert.deepEqual(JSON.parse(ready.text), { status: 'ready', mongodb: true, temporal: true });
      assert.equal(ready.headers['x-content-type-options'], 'nosniff');
      const metrics = await send(web.web.adminUrl, undefined, { method: 'GET', path: '/metrics' });
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /appconnect_events_received_total\{type="app.uninstalled",outcome="accepted"\} 1/);
      assert.match(metrics.text, /appconnect_dispatch_backlog /);
      assert.equal(
        (await send(web.web.adminUrl, undefined, { method: 'POST', path: '/talkdesk/events' })).status,
        404,
        'no callback on the admin port',
      );
    });
  });

  describe('readiness cache', () => {
    it('shares one check among concurrent probes and reuses it for the cache time', async () => {
      let now = 1_000;
      let checks = 0;
      let answer: Readiness = { mongodb: true, temporal: true };
      const readiness = cachedReadiness(
        async () => {
          checks += 1;
          await new Promise((r) => setImmediate(r));
          return answer;
        },
        1_500,
        () => now,
      );
      const burst = await Promise.all(Array.from({ length: 50 }, () => readiness()));
      assert.equal(checks, 1, 'one check for 50 concurrent probes');
      assert.ok(burst.every((r) => r.mongodb && r.temporal));
      answer = { mongodb: false, temporal: true };
      now += 1_000;
      assert.deepEqual(await readiness(), { mongodb: true, temporal: true }, 'cached within 1.5 s');
      assert.equal(checks, 1);
      now += 600;
      assert.deepEqual(await readiness(), { mongodb: false, temporal: true }, 'checked again after 1.5 s');
      assert.equal(checks, 2);
    });
  });
});
