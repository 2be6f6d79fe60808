import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { signHubSignature } from '../../src/web/signature';
import { WEBHOOK_SECRET } from '../support/system';

/** The requests fuzz.test.ts sends the callback: every one must be refused with a 4xx. */

export type Category =
  'random body' | 'mutated body, original signature' | 'valid body, mutated signature' | 'signed, broken field' | 'signed, random JSON';

export interface Case {
  category: Category;
  body: Buffer;
  headers: Record<string, string | string[]>;
}

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

/** The valid event the mutations start from, its exact bytes and their signature. */
export interface FuzzBase {
  event: Record<string, unknown>;
  raw: Buffer;
  signature: string;
}

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
function withValue(baseEvent: Record<string, unknown>, path: string[], value: unknown | typeof DELETE): Record<string, unknown> {
  const copy = structuredClone(baseEvent);
  if (path.length === 0) return copy;
  const parent = path.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, copy);
  const leaf = path[path.length - 1] as string;
  if (value === DELETE) delete parent[leaf];
  else parent[leaf] = value;
  return copy;
}

/** The five kinds of bad request, each built from the one valid event `base` (never sent as it is). */
export function caseArbitrary(base: FuzzBase): fc.Arbitrary<Case> {
  const { event: baseEvent, raw: baseRaw, signature: baseSignature } = base;
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
      const body = Buffer.from(JSON.stringify(withValue(baseEvent, path, value)));
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
