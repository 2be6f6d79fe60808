import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { DEFAULT_JSON_LIMITS, checkJsonShape, findUnsafeJson } from '../../src/web/json-limits';
import { SourceRateLimiter, sourceKey } from '../../src/web/rate-limit';
import { signHubSignature } from '../../src/web/signature';
import { WEBHOOK_SECRET } from '../support/system';
import { JSON_HEADERS, freshEvent, send, type LightWeb, useLightWeb } from './support';

/**
 * The callback's limits: JSON depth and width (checked on the raw bytes before
 * anything parses them), request time (a slow client is cut off while others
 * are served meanwhile) and a per-source rate limit (a burst from one address is
 * answered 429 while another address is still served).
 */

const signed = (raw: string | Buffer) => ({
  ...JSON_HEADERS,
  'x-hub-signature': signHubSignature(Buffer.isBuffer(raw) ? raw : Buffer.from(raw), WEBHOOK_SECRET),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('security: callback limits', function () {
  this.timeout(60_000);

  describe('JSON shape check (unit)', () => {
    const check = (text: string, limits = DEFAULT_JSON_LIMITS) => checkJsonShape(Buffer.from(text), limits);

    it('measures depth and width, not brackets and commas inside strings', () => {
      const limits = { maxDepth: 3, maxKeys: 2, maxArrayItems: 3 };
      assert.equal(check('{"a":{"b":[1,2,3]},"c":"x"}', limits), undefined);
      assert.deepEqual(check('{"a":{"b":[[1]]}}', limits), { kind: 'depth', limit: 3 });
      assert.deepEqual(check('{"a":1,"b":2,"c":3}', limits), { kind: 'keys', limit: 2 });
      assert.deepEqual(check('[1,2,3,4]', limits), { kind: 'items', limit: 3 });
      assert.equal(check('{"a":"[[[[{{{{,,,,,","b":"\\"[[[[,,,,"}', limits), undefined);
      assert.equal(check('["\\\\",1,2]', limits), undefined, 'an escaped backslash ends before the quote');
      // Commas of a closed child do not count for its parent.
      assert.equal(check('{"a":[1,2,3],"b":[1,2,3]}', limits), undefined);
    });

    it('ends without throwing on malformed input and on a million brackets', () => {
      for (const text of ['', '}}}]]]', '{"a', '"\\', ',,,,', '[1,2', '\u0000\u00ff']) check(text);
      const deep = Buffer.from('['.repeat(1_000_000));
      // Stops at the limit: a scan that went on (or backtracked) over a million brackets would meet the test's timeout.
      assert.deepEqual(checkJsonShape(deep), { kind: 'depth', limit: 32 });
    });

    it('finds operator keys and control characters anywhere, by path', () => {
      assert.deepEqual(findUnsafeJson({ a: [{ b: { $where: 'x' } }] }), {
        field: 'a.0.b.$where',
        message: 'keys starting with $ are not accepted',
      });
      assert.deepEqual(findUnsafeJson({ data: { client_secret: 'ab\u0000c' } })?.field, 'data.client_secret');
      assert.deepEqual(findUnsafeJson({ data: { x: 'a\u0085b' } })?.field, 'data.x', 'a C1 control');
      assert.deepEqual(findUnsafeJson({ data: { 'k\u0007': 1 } })?.field, 'data');
      assert.equal(findUnsafeJson({ pem: '-----BEGIN-----\r\nAB\tCD\n-----END-----', price: '5$', 'a.b': 1 }), undefined);
      // A refusal names the key without echoing a long one the request made up.
      const long = `$${'A'.repeat(3000)}<script>`;
      assert.equal(findUnsafeJson({ data: { [long]: 1 } })?.field, `data.$${'A'.repeat(39)}…`);
    });
  });

  describe('rate limiter (unit)', () => {
    it('lets a burst through, then one request per refill interval, each source on its own', () => {
      let now = 1_000_000;
      const limiter = new SourceRateLimiter({ perMinute: 60, burst: 5, now: () => now });
      for (let i = 0; i < 5; i += 1) assert.deepEqual(limiter.take('10.0.0.1'), { allowed: true });
      assert.deepEqual(limiter.take('10.0.0.1'), { allowed: false, retryAfterSeconds: 1 });
      assert.deepEqual(limiter.take('10.0.0.2'), { allowed: true }, 'another source is not affected');
      now += 500;
      assert.equal(limiter.take('10.0.0.1').allowed, false);
      now += 600;
      assert.equal(limiter.take('10.0.0.1').allowed, true);
      assert.equal(limiter.take('10.0.0.1').allowed, false);
      now += 60_000;
      for (let i = 0; i < 5; i += 1) assert.equal(limiter.take('10.0.0.1').allowed, true, 'refilled to the burst, no more');
      assert.equal(limiter.take('10.0.0.1').allowed, false);
    });

    it('gives Retry-After as the whole seconds until the next token', () => {
      const now = 0;
      const limiter = new SourceRateLimiter({ perMinute: 6, burst: 1, now: () => now });
      limiter.take('a');
      assert.deepEqual(limiter.take('a'), { allowed: false, retryAfterSeconds: 10 });
    });

    it('keys IPv4-mapped addresses as IPv4 and IPv6 by /64', () => {
      assert.equal(sourceKey('::ffff:127.0.0.2'), '127.0.0.2');
      assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), sourceKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
      assert.notEqual(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
      assert.equal(sourceKey('::1'), '0:0:0:0::/64');
    });

    it('tracks a bounded number of sources', () => {
      let now = 0;
      const limiter = new SourceRateLimiter({ perMinute: 60, burst: 2, maxSources: 100, now: () => now });
      for (let i = 0; i < 1_000; i += 1) {
        limiter.take(`10.0.${i >> 8}.${i & 255}`);
        now += 1;
      }
      assert.ok(limiter.size <= 100, `${limiter.size} sources kept`);
    });
  });

  describe('JSON depth and width over HTTP', () => {
    let sys: LightWeb;
    useLightWeb((w) => (sys = w));

    async function expect400(raw: string, pattern: RegExp): Promise<void> {
      const answer = await send(sys.web.url, raw, { headers: signed(raw) });
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.json?.error?.code, 'json_too_complex');
      assert.match(answer.json?.error?.message ?? '', pattern);
    }

    it('refuses deeply nested bodies with 400 and keeps serving', async () => {
      await expect400(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, /deeper than 32/);
      await expect400(`${'{"a":'.repeat(40_000)}1${'}'.repeat(40_000)}`, /deeper than 32/);
      // Deep inside an otherwise valid event.
      const event = freshEvent();
      await expect400(JSON.stringify({ ...event, extra: JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`) as unknown }), /deeper than 32/);
      assert.equal(await sys.inboxCount(), 0);
      const ok = JSON.stringify(freshEvent());
      assert.equal((await send(sys.web.url, ok, { headers: signed(ok) })).status, 200);
    });

    it('refuses an object with too many keys and an array with too many items', async () => {
      const before = await sys.inboxCount();
      const event = freshEvent();
      const wide = Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`k${i}`, i]));
      await expect400(JSON.stringify({ ...event, data: { ...event.data, ...wide } }), /more than 1000 keys/);
      await expect400(JSON.stringify({ ...event, extra: Array.from({ length: 10_001 }, () => 0) }), /more than 10000 items/);
      assert.equal(await sys.inboxCount(), before);
    });

    it('accepts at the default body limit an update adding and removing 10,000 users each: the largest lists an event may hold', async () => {
      const event = freshEvent('app.updated');
      // Talkdesk user ids are 24 hex characters: the body is about 540 kB (256kb, the old default, refused it).
      const ids = (from: number) => Array.from({ length: 10_000 }, (_, i) => (from + i).toString(16).padStart(24, '0'));
      event.data.users = { adding: ids(0), removing: ids(10_000) };
      const raw = JSON.stringify(event);
      assert.ok(raw.length > 512 * 1024, `${raw.length} bytes`);
      const answer = await send(sys.web.url, raw, { headers: signed(raw) });
      assert.equal(answer.status, 200, answer.text);
    });
  });

  describe('slow clients', () => {
    let sys: LightWeb;
    useLightWeb((w) => (sys = w), { bodyTimeoutMs: 1_500, headersTimeoutMs: 2_000, requestTimeoutMs: 4_000 });

    interface Slow {
      closedAt: Promise<number>;
      closedAfterMs: Promise<number>;
      received(): string;
      stop(): void;
    }

    /** A raw connection that sends `prefix`, then one byte of `drip` a second until the server closes it. */
    function slowloris(prefix: string, drip: string): Slow {
      const { port } = sys.web.server.address() as AddressInfo;
      const socket = net.connect(port, '127.0.0.1');
      const started = Date.now();
      let received = '';
      let timer: NodeJS.Timeout | undefined;
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('connect', () => {
        socket.write(prefix);
        if (drip === '') return;
        let i = 0;
        timer = setInterval(() => {
          if (!socket.destroyed && socket.writable) socket.write(drip[i++ % drip.length] ?? 'a');
        }, 1_000);
      });
      const closedAt = new Promise<number>((resolve) =>
        socket.on('close', () => {
          clearInterval(timer);
          resolve(Date.now());
        }),
      );
      return {
        closedAt,
        closedAfterMs: closedAt.then((at) => at - started),
        received: () => received,
        stop: () => {
          clearInterval(timer);
          socket.destroy();
        },
      };
    }

    it('cuts off clients that send the body or the headers one byte a second, while answering others meanwhile', async () => {
      const event = freshEvent();
      const body = JSON.stringify(event);
      const bodyDrips = Array.from({ length: 20 }, () =>
        slowloris(
          `POST /talkdesk/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
            `x-hub-signature: ${signHubSignature(Buffer.from(body), WEBHOOK_SECRET)}\r\n\r\n`,
          body,
        ),
      );
      const headerDrips = Array.from({ length: 20 }, () =>
        slowloris('POST /talkdesk/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 'abcdefgh'),
      );
      const silent = slowloris(
        'POST /talkdesk/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n',
        '',
      );
      try {
        // Meanwhile, other clients: each answered, many while every drip still held its connection.
        const latencies: number[] = [];
        const answeredAt: number[] = [];
        const deadline = Date.now() + 4_000;
        while (Date.now() < deadline) {
          const raw = JSON.stringify(freshEvent());
          const answer = await send(sys.web.url, raw, { headers: signed(raw) });
          assert.equal(answer.status, 200, answer.text);
          latencies.push(answer.ms);
          answeredAt.push(Date.now());
          assert.equal((await send(sys.web.url, undefined, { method: 'GET', path: '/healthz' })).status, 200);
          await sleep(100);
        }

        const bodyClosed = await Promise.all(bodyDrips.map((s) => s.closedAfterMs));
        const headerClosed = await Promise.all(headerDrips.map((s) => s.closedAfterMs));
        const silentClosed = await silent.closedAfterMs;
        // Served while the drips were open, not only once they were cut (no wall-clock ceiling on a shared machine).
        const firstCut = Math.min(...(await Promise.all([...bodyDrips, ...headerDrips, silent].map((s) => s.closedAt))));
        const whileHeld = answeredAt.filter((at) => at < firstCut).length;
        // At least one: how many fit in the window is a speed figure (a loaded machine answers fewer).
        assert.ok(whileHeld >= 1, `${whileHeld} answered before the first drip was cut (latencies ${latencies.join(', ')} ms)`);
        // Body: 408 from the handler at bodyTimeoutMs, and the connection closed with it.
        for (const [i, ms] of bodyClosed.entries()) {
          // Cut by the body timeout: one byte a second would hold it for minutes otherwise.
          assert.ok(ms >= 1_400, `body drip closed after ${ms} ms`);
          assert.match(bodyDrips[i]?.received() ?? '', /^HTTP\/1\.1 408 /);
          assert.match(bodyDrips[i]?.received() ?? '', /"code":"body_timeout"/);
        }
        assert.ok(silentClosed >= 1_400, `silent body closed after ${silentClosed} ms`);
        // Headers: Node's headersTimeout, checked every second.
        for (const [i, ms] of headerClosed.entries()) {
          assert.ok(ms >= 1_900, `header drip closed after ${ms} ms`);
          assert.match(headerDrips[i]?.received() ?? '', /^HTTP\/1\.1 408 /);
        }
        assert.equal(await sys.inboxCount(), latencies.length, 'only the prompt clients stored events');
      } finally {
        for (const s of [...bodyDrips, ...headerDrips, silent]) s.stop();
      }
    });
  });

  describe('per-source rate limit', () => {
    let sys: LightWeb;
    // Buckets of 60 refilled by one token a minute: the burst's allowance is exact, however slow the machine.
    useLightWeb((w) => (sys = w), { rateLimitPerMinute: 1, failedAuthPerMinute: 1, rateLimitBurst: 60 });

    it('answers a burst from one address with 429 and Retry-After, while another address is still served', async () => {
      const noisy = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const quiet = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const junk = JSON.stringify({ hello: 'world' });
        const fromNoisy = () => send(sys.web.url, junk, { headers: { ...JSON_HEADERS }, agent: noisy, localAddress: '127.0.0.1' });

        // The burst, and the quiet source's valid deliveries at the same time.
        const burst = Promise.all(Array.from({ length: 200 }, fromNoisy));
        const quietAnswers = [];
        for (let i = 0; i < 15; i += 1) {
          const raw = JSON.stringify(freshEvent());
          quietAnswers.push(await send(sys.web.url, raw, { headers: signed(raw), agent: quiet, localAddress: '127.0.0.2' }));
        }
        const noisyAnswers = await burst;

        const statuses = noisyAnswers.map((a) => a.status);
        const passed = statuses.filter((s) => s === 401).length;
        const limited = noisyAnswers.filter((a) => a.status === 429);
        assert.equal(passed + limited.length, 200, `only 401 and 429: ${[...new Set(statuses)].join(', ')}`);
        assert.ok(passed >= 60 && passed <= 61, `the burst allowance (60) went through: ${passed}`);
        for (const a of limited) {
          assert.equal(a.json?.error?.code, 'rate_limited');
          assert.match(String(a.headers['retry-after']), /^[1-9]\d*$/);
        }
        for (const a of quietAnswers) assert.equal(a.status, 200, a.text);
        assert.equal(await sys.inboxCount(), 15, 'exactly the quiet source’s events are stored');

        // The unsigned burst spent only the failed-auth budget of its source: a valid event
        // from that very source is still accepted at once, while its next unsigned request is not.
        const raw = JSON.stringify(freshEvent());
        const valid = await send(sys.web.url, raw, { headers: signed(raw), agent: noisy, localAddress: '127.0.0.1' });
        assert.equal(valid.status, 200, valid.text);
        assert.equal(await sys.inboxCount(), 16);
        assert.equal((await fromNoisy()).status, 429);
      } finally {
        noisy.destroy();
        quiet.destroy();
      }
    });

    it('limits only the callback: health checks are not counted', async () => {
      for (let i = 0; i < 100; i += 1) {
        assert.equal((await send(sys.web.url, undefined, { method: 'GET', path: '/healthz', localAddress: '127.0.0.3' })).status, 200);
      }
    });
  });
});
