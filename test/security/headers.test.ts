import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { signHubSignature } from '../../src/web/signature';
import { WEBHOOK_SECRET } from '../support/system';
import { JSON_HEADERS, freshEvent, send, startLightWeb, type Answer, type LightWeb, useLightWeb } from './support';

/**
 * Every answer of the web server, successes and errors alike, carries
 * `X-Content-Type-Options: nosniff` and `Cache-Control: no-store` (issue 15).
 */

function assertHardened(what: string, headers: IncomingHttpHeaders): void {
  assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(headers['cache-control'], 'no-store', `${what}: no-store`);
}

describe('security: response headers', function () {
  this.timeout(60_000);
  let web: LightWeb;
  useLightWeb((w) => (web = w), { bodyLimit: '1kb', rateLimitPerMinute: 2, failedAuthPerMinute: 2, rateLimitBurst: 2 });

  const signed = (raw: string) => ({ ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) });

  it('on the callback: accepted, refused for its signature, rate limited', async () => {
    const raw = JSON.stringify(freshEvent());
    const answers: [string, Answer, number][] = [
      ['accepted', await send(web.web.url, raw, { headers: signed(raw) }), 200],
      ['bad signature', await send(web.web.url, raw, { headers: { ...JSON_HEADERS } }), 401],
    ];
    answers.push(['duplicate', await send(web.web.url, raw, { headers: signed(raw) }), 200]);
    // The failed-auth budget (burst 2) is spent by a second unsigned request: the third is a 429.
    answers.push(['bad signature', await send(web.web.url, raw, { headers: { ...JSON_HEADERS } }), 401]);
    answers.push(['rate limited', await send(web.web.url, raw, { headers: { ...JSON_HEADERS } }), 429]);
    for (const [what, answer, status] of answers) {
      assert.equal(answer.status, status, `${what}: ${answer.text}`);
      assertHardened(what, answer.headers);
    }
  });

  it('on errors outside the callback: unknown path, wrong method, and the health endpoint', async () => {
    const cases: [string, Answer, number][] = [
      ['404', await send(web.web.url, undefined, { method: 'GET', path: '/nothing-here' }), 404],
      ['405', await send(web.web.url, undefined, { method: 'GET', path: '/talkdesk/events' }), 405],
      ['healthz', await send(web.web.url, undefined, { method: 'GET', path: '/healthz' }), 200],
    ];
    for (const [what, answer, status] of cases) {
      assert.equal(answer.status, status, `${what}: ${answer.text}`);
      assertHardened(what, answer.headers);
    }
  });

  it('on a body too large and an unsupported type (before and after the body is read)', async () => {
    const other = await startLightWeb({ bodyLimit: '1kb' });
    try {
      const big = await send(other.web.url, 'x'.repeat(4096), { headers: { ...JSON_HEADERS } });
      assert.equal(big.status, 413);
      assertHardened('413', big.headers);
      const text = await send(other.web.url, 'hello', { headers: { 'content-type': 'text/plain' } });
      assert.equal(text.status, 415);
      assertHardened('415', text.headers);
    } finally {
      await other.close();
    }
  });

  /** Writes `raw` on a fresh connection and returns everything the server sent before closing it. */
  function rawExchange(baseUrl: string, raw: string): Promise<string> {
    const url = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      let received = '';
      const socket = net.connect(Number(url.port), url.hostname, () => socket.write(raw));
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in time')));
    });
  }

  it('on the answers Node writes itself: a malformed request (400) and headers too large (431), on both listeners', async () => {
    for (const base of [web.web.url, web.web.adminUrl]) {
      const malformed = await rawExchange(base, 'THIS IS NOT HTTP\r\n\r\n');
      assert.match(malformed, /^HTTP\/1\.1 400 /);
      const huge = await rawExchange(base, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.match(huge, /^HTTP\/1\.1 431 /);
      for (const answer of [malformed, huge]) {
        assert.match(answer, /\r\nX-Content-Type-Options: nosniff\r\n/i);
        assert.match(answer, /\r\nCache-Control: no-store\r\n/i);
      }
    }
  });

  it('when the store is down (503)', async () => {
    const other = await startLightWeb();
    try {
      await other.db.close();
      const raw = JSON.stringify(freshEvent());
      const answer = await send(other.web.url, raw, { headers: signed(raw) });
      assert.equal(answer.status, 503, answer.text);
      assertHardened('503', answer.headers);
    } finally {
      await other.web.close();
    }
  });
});
