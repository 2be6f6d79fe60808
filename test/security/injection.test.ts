import assert from 'node:assert/strict';
import { signHubSignature } from '../../src/web/signature';
import { EVENT_TYPES } from '../../workflows/definitions';
import { WEBHOOK_SECRET } from '../support/system';
import { JSON_HEADERS, freshEvent, send, type LightWeb, useLightWeb } from './support';

/**
 * Injection attempts in every string field of every event type, at the HTTP
 * level with valid signatures: MongoDB operator objects (`$ne`, `$gt`, `$where`,
 * `$regex`), arrays, strings longer than any field allows (but free text, cut instead), and control
 * characters. Each is refused with 400 naming the field, the answer does not
 * echo it, and nothing is stored.
 */

type Json = Record<string, unknown>;

/** Dotted paths of every string leaf of an event. */
function stringPaths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value === 'string') return [prefix];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => stringPaths(v, [...prefix, k]));
}

function setAt(event: Json, path: string[], value: unknown): Json {
  const copy = structuredClone(event);
  const parent = path.slice(0, -1).reduce<Json>((o, k) => o[k] as Json, copy);
  parent[path[path.length - 1] as string] = value;
  return copy;
}

const getAt = (event: Json, path: string[]): unknown => path.reduce<unknown>((o, k) => (o as Json)[k], event);

const LONG = 'a 20,000 character string';
/** What each attempt puts in place of the original string (which it may build on). */
const ATTEMPTS: { name: string; make(original: string): unknown }[] = [
  { name: '{"$ne": null}', make: () => ({ $ne: null }) },
  { name: '{"$gt": ""}', make: () => ({ $gt: '' }) },
  { name: '{"$where": ...}', make: () => ({ $where: 'function () { sleep(5000); return true; }' }) },
  { name: '{"$regex": ".*"}', make: () => ({ $regex: '.*', $options: 'si' }) },
  { name: '{"$in": [...]}', make: (o) => ({ $in: [o, null] }) },
  { name: 'an array', make: (o) => [o] },
  { name: LONG, make: () => 'A'.repeat(20_000) },
  { name: 'a NUL character', make: (o) => `${o.slice(0, 3)}\u0000${o.slice(3)}` },
  { name: 'an ANSI escape', make: (o) => `${o}\u001b[2J\u001b[31m` },
  { name: 'a C1 control (NEL)', make: (o) => `\u0085${o}` },
  { name: 'DEL', make: (o) => `${o}\u007f` },
];

describe('security: injection attempts in every string field are refused with 400 and store nothing', function () {
  this.timeout(60_000);
  let sys: LightWeb;
  useLightWeb((w) => (sys = w));

  const post = (event: unknown) => {
    const raw = JSON.stringify(event);
    return send(sys.web.url, raw, { headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) } });
  };

  for (const type of EVENT_TYPES) {
    it(`${type}: every string field, every attempt`, async () => {
      const base = freshEvent(type) as Json;
      const paths = stringPaths(base);
      assert.ok(paths.length >= 8, `${type} has ${paths.length} string fields`);
      const before = await sys.inboxCount();
      let attempts = 0;
      for (const path of paths) {
        const field = path.join('.');
        const original = getAt(base, path) as string;
        for (const attempt of ATTEMPTS) {
          // Free text that decides nothing is cut, not refused (src/events/fields.ts `text`; events-schemas.test.ts).
          if (field === 'data.reason.message' && attempt.name === LONG) continue;
          const event = setAt(freshEvent(type) as Json, path, attempt.make(original));
          // Keep the ids the attempt did not touch fresh, so a refusal cannot hide behind a duplicate.
          const answer = await post(event);
          attempts += 1;
          assert.equal(answer.status, 400, `${field} ← ${attempt.name}: ${answer.text}`);
          assert.equal(answer.json?.error?.code, 'invalid_event', `${field} ← ${attempt.name}`);
          assert.equal(answer.json?.error?.field, field, `${field} ← ${attempt.name}: ${answer.text}`);
          for (const echo of ['$where', 'sleep', '$regex', 'AAAAAAAAAAAAAAAA', '\u001b', '\\u001b', '\u0000', '\\u0000']) {
            assert.ok(!answer.text.includes(echo), `${field} ← ${attempt.name}: the answer echoes ${JSON.stringify(echo)}`);
          }
        }
      }
      assert.equal(await sys.inboxCount(), before, `none of the ${attempts} attempts stored anything`);

      // Control: the same event untouched is accepted and stored.
      const control = freshEvent(type);
      const ok = await post(control);
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await sys.store.inbox.get(control.id))?._id, control.id);
    });
  }

  it('an operator key added anywhere, even where the schema would drop it, is refused', async () => {
    const before = await sys.inboxCount();
    const places: { where: string; add(e: Json): void; field: string }[] = [
      { where: 'the root', add: (e) => (e.$where = 'sleep(5000)'), field: '$where' },
      { where: 'data', add: (e) => ((e.data as Json).$set = { phase: 'active' }), field: 'data.$set' },
      { where: 'a link', add: (e) => (((e._links as Json).root as Json).$ne = 1), field: '_links.root.$ne' },
      { where: 'an unknown nested key', add: (e) => (e.extra = { deep: [{ $expr: { $eq: [1, 1] } }] }), field: 'extra.deep.0.$expr' },
    ];
    for (const p of places) {
      const event = freshEvent('app.installed') as Json;
      p.add(event);
      const answer = await post(event);
      assert.equal(answer.status, 400, `${p.where}: ${answer.text}`);
      assert.equal(answer.json?.error?.field, p.field, p.where);
    }
    assert.equal(await sys.inboxCount(), before);
  });

  it('text that merely looks like an operator stays a plain string (control)', async () => {
    const event = freshEvent('app.installed');
    event.data.account_name = '{"$where": "sleep(5000)"}';
    const answer = await post(event);
    assert.equal(answer.status, 200, answer.text);
    assert.equal((await sys.store.inbox.get(event.id))?.event.accountName, '{"$where": "sleep(5000)"}');
  });
});
