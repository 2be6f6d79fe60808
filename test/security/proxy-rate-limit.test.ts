import assert from 'node:assert/strict';
import http from 'node:http';
import { loadEnv } from '../../src/config/env';
import { ConfigError } from '../../src/errors';
import { clientAddress, parseTrustProxy } from '../../src/web/client-address';
import { signHubSignature } from '../../src/web/signature';
import { WEBHOOK_SECRET } from '../support/system';
import { BASE_ENV, JSON_HEADERS, freshEvent, send, startLightWeb, type Answer, type LightWeb } from './support';

/**
 * Availability of the callback (issue 15): the client address is taken from
 * X-Forwarded-For only through trusted proxies (TRUST_PROXY), and requests that fail
 * authentication spend a budget of their own (CALLBACK_FAILED_AUTH_PER_MINUTE), so a
 * flood of unsigned requests cannot make Talkdesk's signed deliveries wait.
 */

const TALKDESK = '198.51.100.20';
const ATTACKER = '203.0.113.7';

const signedHeaders = (raw: string) => ({ ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) });

describe('security: proxy-aware callback rate limits', function () {
  this.timeout(120_000);

  describe('client address (TRUST_PROXY)', () => {
    it('parses a hop count, CIDRs and addresses, and refuses anything else naming the variable', () => {
      assert.equal(loadEnv(BASE_ENV).TRUST_PROXY, undefined, 'unset trusts no proxy');
      assert.equal(loadEnv(BASE_ENV).CALLBACK_FAILED_AUTH_PER_MINUTE, 60);
      assert.deepEqual(loadEnv({ ...BASE_ENV, TRUST_PROXY: '1' }).TRUST_PROXY, { kind: 'hops', hops: 1 });
      assert.deepEqual(loadEnv({ ...BASE_ENV, TRUST_PROXY: '0' }).TRUST_PROXY, { kind: 'none' }, 'zero hops: none');
      assert.equal(loadEnv({ ...BASE_ENV, TRUST_PROXY: '10.0.0.0/8, 192.168.1.5,fd00::/8' }).TRUST_PROXY?.kind, 'cidrs');
      for (const bad of ['yes', '10.0.0.0/33', '10.0.0.0/8,nope', '999']) {
        assert.throws(
          () => loadEnv({ ...BASE_ENV, TRUST_PROXY: bad }),
          (err: unknown) => err instanceof ConfigError && /TRUST_PROXY: /.test(err.message),
          bad,
        );
      }
      assert.throws(() => loadEnv({ ...BASE_ENV, CALLBACK_FAILED_AUTH_PER_MINUTE: '-1' }), /CALLBACK_FAILED_AUTH_PER_MINUTE: /);
    });

    const table: [string, string, string | undefined, string][] = [
      // [TRUST_PROXY, TCP peer, X-Forwarded-For, expected client]
      ['', '10.0.0.2', `${ATTACKER}`, '10.0.0.2'],
      ['', '::ffff:10.0.0.2', undefined, '::ffff:10.0.0.2'],
      ['1', '10.0.0.2', `${ATTACKER}`, ATTACKER],
      ['1', '10.0.0.2', `1.2.3.4, ${ATTACKER}`, ATTACKER], // the client's own entries are not believed
      ['1', '10.0.0.2', undefined, '10.0.0.2'],
      ['2', '10.0.0.2', `1.2.3.4, ${ATTACKER}, 10.0.0.9`, ATTACKER],
      ['3', '10.0.0.2', `${ATTACKER}`, ATTACKER], // fewer hops than trusted: the leftmost
      ['10.0.0.0/8', '10.0.0.2', `1.2.3.4, ${ATTACKER}, 10.0.0.9`, ATTACKER],
      ['10.0.0.0/8', '::ffff:10.0.0.2', `${ATTACKER}`, ATTACKER],
      ['10.0.0.0/8', '192.0.2.1', `${ATTACKER}`, '192.0.2.1'], // an untrusted peer's header is ignored
      ['10.0.0.0/8', '10.0.0.2', 'not-an-address', '10.0.0.2'], // garbage: the hop that wrote it
      ['10.0.0.0/8,2001:db8::/32', '2001:db8::1', `${ATTACKER}`, ATTACKER],
    ];
    for (const [trust, peer, xff, expected] of table) {
      it(`TRUST_PROXY=${JSON.stringify(trust)} peer ${peer} X-Forwarded-For ${JSON.stringify(xff)} → ${expected}`, () => {
        assert.equal(clientAddress(peer, xff, parseTrustProxy(trust)), expected);
      });
    }
    it('reads a repeated X-Forwarded-For header as one list', () => {
      assert.equal(clientAddress('10.0.0.2', ['1.2.3.4', ATTACKER], parseTrustProxy('1')), ATTACKER);
    });
  });

  describe('over HTTP', () => {
    /** Every request comes from 127.0.0.1: the proxy (trusted or not) in front of the service. */
    const viaProxy = (web: LightWeb, body: string, headers: Record<string, string>, agent: http.Agent, forwardedFor?: string) =>
      send(web.web.url, body, {
        headers: { ...headers, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
        agent,
        localAddress: '127.0.0.1',
      });

    /** A flood of unsigned requests while signed events keep arriving; returns both sides' answers. */
    async function floodWhileDelivering(web: LightWeb, floodFrom: string | undefined, deliverFrom: string | undefined, events: number) {
      const floodAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      const deliveryAgent = new http.Agent({ keepAlive: true, maxSockets: 2 });
      try {
        const junk = JSON.stringify({ hello: 'world' });
        let flooding = true;
        const floodAnswers: Answer[] = [];
        const flooder = async () => {
          while (flooding) floodAnswers.push(await viaProxy(web, junk, { ...JSON_HEADERS }, floodAgent, floodFrom));
        };
        const flood = Promise.all(Array.from({ length: 8 }, flooder));
        const deliveries: Answer[] = [];
        for (let i = 0; i < events; i += 1) {
          const raw = JSON.stringify(freshEvent());
          deliveries.push(await viaProxy(web, raw, signedHeaders(raw), deliveryAgent, deliverFrom));
        }
        flooding = false;
        await flood;
        return { floodAnswers, deliveries };
      } finally {
        floodAgent.destroy();
        deliveryAgent.destroy();
      }
    }

    it('a flood of unsigned requests from one source through a trusted proxy: every signed event is accepted', async () => {
      const web = await startLightWeb({ rateLimitPerMinute: 30, failedAuthPerMinute: 10, trustProxy: parseTrustProxy('1') });
      try {
        const floodStarted = Date.now();
        const { floodAnswers, deliveries } = await floodWhileDelivering(web, ATTACKER, TALKDESK, 20);
        // One token of the flood's budget (10 a minute) comes back every 6 s: a slow run lets a few more through.
        const refilled = Math.max(2, Math.ceil((Date.now() - floodStarted) / 6_000) + 1);
        for (const a of deliveries) assert.equal(a.status, 200, a.text);
        assert.equal(await web.inboxCount(), 20);
        const statuses = new Set(floodAnswers.map((a) => a.status));
        assert.deepEqual([...statuses].sort(), [401, 429], `the flood was refused, then limited: ${[...statuses].join(', ')}`);
        const passed = floodAnswers.filter((a) => a.status === 401).length;
        assert.ok(
          passed >= 10 && passed <= 10 + refilled,
          `the flood's own budget (10, and up to ${refilled} refilled) went through: ${passed} of ${floodAnswers.length}`,
        );
        for (const a of floodAnswers.filter((x) => x.status === 429)) assert.equal(a.json?.error?.code, 'rate_limited');
      } finally {
        await web.close();
      }
    });

    it('even when flood and deliveries share one source (no proxy trusted), the unsigned flood cannot spend the signed budget', async () => {
      const web = await startLightWeb({ rateLimitPerMinute: 30, failedAuthPerMinute: 10 });
      try {
        const { floodAnswers, deliveries } = await floodWhileDelivering(web, ATTACKER, TALKDESK, 20);
        for (const a of deliveries) assert.equal(a.status, 200, a.text);
        assert.ok(
          floodAnswers.some((a) => a.status === 429),
          'the flood was limited',
        );
      } finally {
        await web.close();
      }
    });

    it('without TRUST_PROXY, a forged X-Forwarded-For does not buy fresh buckets', async () => {
      const web = await startLightWeb({ rateLimitPerMinute: 30, failedAuthPerMinute: 5 });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 10; i += 1) statuses.push((await viaProxy(web, 'x', { ...JSON_HEADERS }, agent, `203.0.113.${i + 1}`)).status);
        assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
      } finally {
        agent.destroy();
        await web.close();
      }
    });

    it('signed requests keep their own budget (CALLBACK_RATE_LIMIT_PER_MINUTE), per client through the proxy: past it stored, handed over later', async () => {
      const web = await startLightWeb({ rateLimitPerMinute: 3, failedAuthPerMinute: 60, trustProxy: parseTrustProxy('127.0.0.1/32') });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const answers: Answer[] = [];
        const events = Array.from({ length: 4 }, () => freshEvent());
        for (const event of events) {
          const raw = JSON.stringify(event);
          answers.push(await viaProxy(web, raw, signedHeaders(raw), agent, TALKDESK));
        }
        // Past the budget: stored and queued, not refused (a 429 spends one of Talkdesk's two redeliveries).
        assert.deepEqual(
          answers.map((a) => a.status),
          [200, 200, 200, 202],
        );
        assert.deepEqual(answers[3]?.json, { status: 'stored', eventId: events[3]?.id, dispatched: false });
        const deferred = await web.store.inbox.get(String(events[3]?.id));
        assert.ok(deferred && !deferred.dispatchedAt, 'stored, not handed over yet');
        assert.equal(await web.store.inbox.countUndispatched(), 1, 'queued for the dispatcher');
        assert.equal(await web.web.dispatcher.runOnce(), 1, 'the dispatcher hands it over');
        assert.ok((await web.store.inbox.get(String(events[3]?.id)))?.dispatchedAt);
        const raw = JSON.stringify(freshEvent());
        assert.equal(
          (await viaProxy(web, raw, signedHeaders(raw), agent, '198.51.100.21')).status,
          200,
          'another client has its own bucket',
        );
      } finally {
        agent.destroy();
        await web.close();
      }
    });
  });
});
