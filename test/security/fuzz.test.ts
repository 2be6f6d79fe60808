import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { signHubSignature } from '../../src/web/signature';
import { COLLECTIONS } from '../../src/store';
import { startSystem, WEBHOOK_SECRET, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';
import { postCallback } from '../support/callback-client';
import { caseArbitrary, type Case, type Category } from './fuzz-cases';
import { send, type Answer } from './support';

/**
 * Property-based fuzzing of the callback on the whole running system: thousands of
 * random and mutated bodies, headers and signatures over keep-alive connections.
 * Every answer is a 4xx with an error body, nothing is stored, no unhandled error
 * is logged, and afterwards the process still serves a valid event end to end.
 */

const RUNS = 5_000;
const RAW_SOCKET_RUNS = 400;

describe('security: callback fuzzing (fast-check, whole system)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let agent: http.Agent;
  let baseEvent: Record<string, unknown>;
  let baseRaw: Buffer;
  let baseSignature: string;

  before(async () => {
    sys = await startSystem();
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    // The one valid event the mutations start from. It is never delivered as it is.
    baseEvent = sys.simulator.createInstallation().event as unknown as Record<string, unknown>;
    baseRaw = Buffer.from(JSON.stringify(baseEvent));
    baseSignature = signHubSignature(baseRaw, WEBHOOK_SECRET);
  });
  after(async () => {
    agent?.destroy();
    await sys?.close();
  });

  const post = (c: Case): Promise<Answer> =>
    postCallback(sys.web.callbackUrl, c.body, { headers: c.headers, signature: null, contentType: null, agent });

  it(`answers ${RUNS} random and mutated requests with a 4xx, stores nothing, and still serves a valid event`, async () => {
    const byCategory = new Map<Category, number>();
    const byStatus = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(caseArbitrary({ event: baseEvent, raw: baseRaw, signature: baseSignature }), async (c) => {
        const answer = await post(c);
        byCategory.set(c.category, (byCategory.get(c.category) ?? 0) + 1);
        byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
        assert.ok(
          answer.status >= 400 && answer.status < 500 && answer.status !== 429,
          `${c.category}: status ${answer.status} ${answer.text.slice(0, 200)}`,
        );
        assert.match(answer.json?.error?.code ?? '', /^[a-z_]+$/, `${c.category}: an error body (${answer.text.slice(0, 200)})`);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );

    console.log(`      fuzz: ${JSON.stringify(Object.fromEntries(byCategory))}; statuses ${JSON.stringify(Object.fromEntries(byStatus))}`);
    // The fuzzing covered what it claims to.
    for (const category of [
      'random body',
      'mutated body, original signature',
      'valid body, mutated signature',
      'signed, broken field',
      'signed, random JSON',
    ] as const) {
      assert.ok((byCategory.get(category) ?? 0) >= RUNS / 10, `${category}: ${byCategory.get(category)} runs`);
    }
    for (const status of [400, 401, 415])
      assert.ok((byStatus.get(status) ?? 0) > 20, `status ${status}: ${byStatus.get(status)} answers (${JSON.stringify([...byStatus])})`);

    // Nothing stored, nothing started, nothing unexpected logged.
    assert.equal(await sys.store.db.collection(COLLECTIONS.inbox).countDocuments(), 0, 'the inbox is empty');
    assert.equal(await sys.store.db.collection(COLLECTIONS.installations).countDocuments(), 0);
    assert.equal(await sys.store.db.collection(COLLECTIONS.credentials).countDocuments(), 0);
    assert.equal(await sys.store.db.collection(COLLECTIONS.eventCredentials).countDocuments(), 0);
    const unhandled = sys.logLines.filter((l) => /"level":"(error|fatal)"/.test(l));
    assert.deepEqual(unhandled, [], 'no error was logged');

    // Still up: health, and a valid event goes all the way to an approved installation.
    assert.equal((await send(sys.web.url, undefined, { method: 'GET', path: '/healthz' })).status, 200);
    const { installation, event } = sys.simulator.createInstallation();
    const raw = Buffer.from(JSON.stringify(event));
    const ok = await post({
      category: 'random body',
      body: raw,
      headers: { 'content-type': 'application/json', 'x-hub-signature': signHubSignature(raw, WEBHOOK_SECRET) },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json?.status, 'accepted');
    await waitForPhase(sys.client, installation.id, 'active');
  });

  it(`survives ${RAW_SOCKET_RUNS} malformed HTTP requests on raw sockets`, async () => {
    const { port } = sys.web.server.address() as AddressInfo;
    // This test's own: what earlier tests stored and logged is not its to judge.
    const inboxBefore = await sys.store.db.collection(COLLECTIONS.inbox).countDocuments();
    const linesBefore = sys.logLines.length;
    const requestLine = fc.oneof(
      fc.constant('POST /talkdesk/events HTTP/1.1\r\n'),
      fc.constantFrom(
        'GET / HTTP/1.1\r\n',
        'POST /talkdesk/events HTTP/9.9\r\n',
        'POST /talkdesk/events\r\n',
        '\r\n\r\n',
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      ),
      fc.string({ maxLength: 60 }),
    );
    const rest = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
      fc
        .tuple(
          fc.constantFrom(
            'Content-Length: -1',
            'Content-Length: 99999999999999',
            'Transfer-Encoding: chunked',
            'Content-Length: 5\r\nContent-Length: 6',
            'Transfer-Encoding: chunked\r\nContent-Length: 3',
          ),
          fc.string({ maxLength: 100 }),
        )
        .map(([h, body]) => Buffer.from(`Host: x\r\nContent-Type: application/json\r\n${h}\r\n\r\n${body}`)),
    );
    const samples = fc.sample(fc.tuple(requestLine, rest), RAW_SOCKET_RUNS);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < samples.length; i += 25) {
      await Promise.all(
        samples.slice(i, i + 25).map(
          ([line, tail]) =>
            new Promise<void>((resolve) => {
              const socket = net.connect(port, '127.0.0.1');
              let received = '';
              const timer = setTimeout(() => socket.destroy(), 3_000);
              socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
              socket.on('error', () => undefined);
              socket.on('close', () => {
                clearTimeout(timer);
                const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 'closed';
                outcomes.set(status, (outcomes.get(status) ?? 0) + 1);
                resolve();
              });
              socket.on('connect', () => socket.end(Buffer.concat([Buffer.from(line, 'utf8'), tail])));
            }),
        ),
      );
    }
    for (const status of outcomes.keys()) {
      assert.ok(
        status === 'closed' || /^4\d\d$/.test(status) || status === '200',
        `raw request answered ${status} (${JSON.stringify([...outcomes])})`,
      );
    }
    assert.ok((outcomes.get('400') ?? 0) > 0, `the parser refused garbage with 400 (${JSON.stringify([...outcomes])})`);
    const errors = sys.logLines.slice(linesBefore).filter((l) => /"level":"(error|fatal|warn)"/.test(l));
    assert.deepEqual(errors, [], 'malformed requests are the client’s doing: no warning or error logged');
    assert.equal(await sys.store.db.collection(COLLECTIONS.inbox).countDocuments(), inboxBefore, 'nothing stored');
    assert.equal((await send(sys.web.url, undefined, { method: 'GET', path: '/healthz' })).status, 200);
  });
});
