import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { signHubSignature } from '../../src/web/signature';
import { COLLECTIONS } from '../../src/store';
import { startSystem, WEBHOOK_SECRET, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';
import { postCallback } from '../support/callback-client';
import { send, type Answer } from './support';

/**
 * Property-based fuzzing of the callback on the whole running system: thousands of
 * random and mutated bodies, headers and signatures over keep-alive connections.
 * Every answer is a 4xx with an error body, nothing is stored, no unhandled error
 * is logged, and afterwards the process still serves a valid event end to end.
 */

type Category =
  'random body' | 'mutated body, original signature' | 'valid body, mutated signature' | 'signed, broken field' | 'signed, random JSON';

interface Case {
  category: Category;
  body: Buffer;
  headers: Record<string, string | string[]>;
}

const RUNS = 5_000;
const RAW_SOCKET_RUNS = 400;

/** Header names a client may send freely (not framing headers, which would break the request itself). */
const headerName = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,24}$/)
  .filter(
    (n) => !['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'upgrade', 'te', 'trailer', 'keep-alive'].includes(n),
  );
const headerValue = fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,120}$/).map((v) => v.trimEnd() || 'x');
const hexString = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${min},${max}}$`));

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  fc.constantFrom('application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/json-patch+json', ''),
  headerValue,
);

/** Extra headers, including the ECDSA ones with junk (the ecdsa scheme is off: they must count for nothing). */
const extraHeaders = fc.dictionary(
  fc.oneof(headerName, fc.constantFrom('x-hub-ecdsa-signature', 'x-hub-ecdsa-signature-id', 'x-forwarded-for', 'authorization', 'cookie')),
  headerValue,
  { maxKeys: 4 },
);

/** Values no string field of an event may hold. */
const notAString: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>({ $ne: null }, { $gt: '' }, { $where: 'sleep(5000) || true' }, { $regex: '.*' }, { $exists: true }, [
    '$ne',
    null,
  ]),
  fc.record({ $where: fc.string() }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

/** Strings no field accepts: a control character somewhere, or longer than any field's maximum. */
const hostileString = fc.oneof(
  fc
    .tuple(
      fc.string({ maxLength: 20 }),
      fc.integer({ min: 0, max: 0x9f }).filter((c) => (c < 0x20 ? ![9, 10, 13].includes(c) : c >= 0x7f)),
      fc.string({ maxLength: 20 }),
    )
    .map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`),
  fc.integer({ min: 16_385, max: 20_000 }).map((n) => 'A'.repeat(n)),
);

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

  /** Every path in the base event, for field mutations. */
  function paths(value: unknown, prefix: string[] = []): string[][] {
    if (value === null || typeof value !== 'object') return [prefix];
    return [prefix, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))];
  }
  const REQUIRED = [
    'id',
    'created_at',
    'api_version',
    'type',
    'app_id',
    'app_version_id',
    'app_version_name',
    'data',
    '_links',
    'data.installation_id',
    'data.account_id',
    'data.account_name',
    'data.client_id',
    'data.client_secret',
    'data.private_key',
    'data.public_key',
    'data.key_id',
    'data.key_algorithm',
    '_links.root',
    '_links.tokens',
    '_links.root.href',
    '_links.tokens.href',
  ];

  const DELETE = Symbol('delete');
  function withValue(path: string[], value: unknown | typeof DELETE): Record<string, unknown> {
    const copy = structuredClone(baseEvent);
    if (path.length === 0) return copy;
    const parent = path.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, copy);
    const leaf = path[path.length - 1] as string;
    if (value === DELETE) delete parent[leaf];
    else parent[leaf] = value;
    return copy;
  }

  function caseArbitrary(): fc.Arbitrary<Case> {
    const allPaths = paths(baseEvent);
    const stringLeaves = allPaths.filter(
      (p) => typeof p.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], baseEvent) === 'string',
    );
    const objects = allPaths.filter((p) => {
      const v = p.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], baseEvent);
      return v !== null && typeof v === 'object';
    });
    const sign = (body: Buffer) => signHubSignature(body, WEBHOOK_SECRET);

    const randomBody: fc.Arbitrary<Case> = fc
      .record({
        body: fc.oneof(
          fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)),
          fc.string({ maxLength: 500 }).map((s) => Buffer.from(s)),
          fc.json({ maxDepth: 6 }).map((s) => Buffer.from(s)),
          fc.constantFrom('', '{', '[]', 'null', '{"type":"app.installed"}', '{"$where":"1"}').map((s) => Buffer.from(s)),
        ),
        ct: fc.option(contentType, { nil: undefined }),
        sig: fc.oneof(
          fc.constant(undefined),
          headerValue,
          hexString(64, 64).map((h) => `sha256=${h}`),
          fc.constant(baseSignature), // another body's valid signature, replayed
          fc.string({ maxLength: 30 }).map((secret) => `sha256=${createHmac('sha256', `${secret}x`).update('x').digest('hex')}`),
        ),
        extra: extraHeaders,
      })
      .map(({ body, ct, sig, extra }) => ({
        category: 'random body' as const,
        body,
        headers: {
          ...extra,
          ...(ct !== undefined ? { 'content-type': ct } : {}),
          ...(sig !== undefined ? { 'x-hub-signature': sig } : {}),
        },
      }));

    const mutatedBody: fc.Arbitrary<Case> = fc
      .record({
        at: fc.nat(),
        kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate', 'append', 'replace-char'),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
        bit: fc.integer({ min: 0, max: 7 }),
      })
      .map(({ at, kind, bytes, bit }) => {
        const i = at % baseRaw.length;
        let body: Buffer;
        switch (kind) {
          case 'flip':
            body = Buffer.from(baseRaw);
            body[i] = (body[i] ?? 0) ^ (1 << bit);
            break;
          case 'insert':
            body = Buffer.concat([baseRaw.subarray(0, i), Buffer.from(bytes), baseRaw.subarray(i)]);
            break;
          case 'delete':
            body = Buffer.concat([baseRaw.subarray(0, i), baseRaw.subarray(Math.min(baseRaw.length, i + bytes.length))]);
            break;
          case 'truncate':
            body = baseRaw.subarray(0, i);
            break;
          case 'append':
            body = Buffer.concat([baseRaw, Buffer.from(bytes)]);
            break;
          default:
            body = Buffer.from(baseRaw);
            body[i] = (body[i] ?? 0) === 0x41 ? 0x42 : 0x41;
        }
        return {
          category: 'mutated body, original signature' as const,
          body,
          headers: { 'content-type': 'application/json', 'x-hub-signature': baseSignature },
        };
      })
      .filter((c) => !c.body.equals(baseRaw));

    const hex = baseSignature.slice('sha256='.length);
    const mutatedSignature: fc.Arbitrary<Case> = fc
      .record({
        at: fc.nat({ max: hex.length - 1 }),
        kind: fc.constantFrom('digit', 'drop', 'extend', 'prefix', 'double', 'other-secret', 'sha1-label'),
        delta: fc.integer({ min: 1, max: 15 }),
        extra: hexString(1, 8),
      })
      .map(({ at, kind, delta, extra }): Case => {
        let signature: string | string[];
        switch (kind) {
          case 'digit': {
            const changed = ((parseInt(hex[at] ?? '0', 16) + delta) % 16).toString(16);
            signature = `sha256=${hex.slice(0, at)}${changed}${hex.slice(at + 1)}`;
            break;
          }
          case 'drop':
            signature = `sha256=${hex.slice(0, at)}${hex.slice(at + 1)}`;
            break;
          case 'extend':
            signature = `sha256=${hex}${extra}`;
            break;
          case 'prefix':
            signature = `${['sha1', 'sha512', 'sha384', 'md5', ''][at % 5]}=${hex}`;
            break;
          case 'double':
            signature = [baseSignature, baseSignature];
            break;
          case 'other-secret':
            signature = signHubSignature(baseRaw, `${WEBHOOK_SECRET}${extra}`);
            break;
          default:
            signature = `sha1=${hex.slice(0, 40)}`;
        }
        return {
          category: 'valid body, mutated signature',
          body: baseRaw,
          headers: { 'content-type': 'application/json', 'x-hub-signature': signature },
        };
      });

    const brokenField: fc.Arbitrary<Case> = fc
      .oneof(
        fc.record({ path: fc.constantFrom(...stringLeaves), value: notAString }),
        fc.record({ path: fc.constantFrom(...stringLeaves), value: hostileString }),
        fc.record({ path: fc.constantFrom(...REQUIRED.map((p) => p.split('.'))), value: fc.constant<unknown>(DELETE) }),
        fc
          .record({
            path: fc.constantFrom(...objects),
            value: fc.tuple(fc.constantFrom('$where', '$ne', '$gt', '$set', '$expr'), fc.jsonValue({ maxDepth: 1 })),
          })
          .map(({ path, value }) => ({ path: [...path, value[0]], value: value[1] as unknown })),
        fc.record({ path: fc.constant<string[]>(['type']), value: fc.string().filter((t) => !t.startsWith('app.')) }),
      )
      .map(({ path, value }) => {
        const body = Buffer.from(JSON.stringify(withValue(path, value)));
        return {
          category: 'signed, broken field' as const,
          body,
          headers: { 'content-type': 'application/json', 'x-hub-signature': sign(body) },
        };
      });

    const randomJson: fc.Arbitrary<Case> = fc.oneof(fc.jsonValue({ maxDepth: 5 }), fc.object({ maxDepth: 3 })).map((value) => {
      const body = Buffer.from(JSON.stringify(value) ?? 'null');
      return {
        category: 'signed, random JSON' as const,
        body,
        headers: { 'content-type': 'application/json', 'x-hub-signature': sign(body) },
      };
    });

    return fc.oneof(randomBody, mutatedBody, mutatedSignature, brokenField, randomJson);
  }

  const post = (c: Case): Promise<Answer> =>
    postCallback(sys.web.callbackUrl, c.body, { headers: c.headers, signature: null, contentType: null, agent });

  it(`answers ${RUNS} random and mutated requests with a 4xx, stores nothing, and still serves a valid event`, async () => {
    const byCategory = new Map<Category, number>();
    const byStatus = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(caseArbitrary(), async (c) => {
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
    const errors = sys.logLines.filter((l) => /"level":"(error|fatal|warn)"/.test(l));
    assert.deepEqual(errors, [], 'malformed requests are the client’s doing: no warning or error logged');
    assert.equal(
      await sys.store.db.collection(COLLECTIONS.inbox).countDocuments(),
      1,
      'only the valid event of the previous test is stored',
    );
    assert.equal((await send(sys.web.url, undefined, { method: 'GET', path: '/healthz' })).status, 200);
  });
});
