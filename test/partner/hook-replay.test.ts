import assert from 'node:assert/strict';
import { HookClient } from '../../src/partner/hook-client';
import { verifyHookSignature, verifyTimedHook } from '../../src/partner/signature';
import { docRecipes } from '../support/partner-recipes';
import { TestPartnerServer } from '../support/partner-server';

const SECRET = 'hook-secret-for-the-replay-tests';

/** Partner hooks carry a signed send time and key, so a captured hook cannot be replayed later or under another key. */
describe('partner hooks: timed signature against replays', () => {
  const server = new TestPartnerServer([SECRET]);
  before(() => server.start());
  after(() => server.stop());
  afterEach(() => {
    server.now = Date.now;
  });

  const body = (id: string) =>
    JSON.stringify({
      id,
      type: 'account.provision',
      installation_id: 'inst-replay',
      account_id: 'acct-replay',
      occurred_at: '2026-12-01T10:00:00.000Z',
      data: { users: [{ id: 'u-1', role: 'admin' }] },
    });

  /** Sends one hook as the service does and returns it as the partner received it. */
  async function sendOne(id: string) {
    const client = new HookClient({ url: server.url, secrets: [SECRET], timeoutMs: 5_000 });
    assert.equal((await client.send(body(id), id, new AbortController().signal)).status, 200);
    const hook = server.received.at(-1);
    assert.ok(hook);
    return hook;
  }

  /** The captured hook sent again by someone else, with `change` applied to its headers. */
  async function replay(hook: { raw: string; headers: Record<string, unknown> }, change: Record<string, string> = {}) {
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'idempotency-key', 'x-appconnect-signature', 'x-appconnect-timestamp', 'x-appconnect-signature-v2'])
      if (typeof hook.headers[name] === 'string') headers[name] = hook.headers[name];
    return (await fetch(server.url, { method: 'POST', headers: { ...headers, ...change }, body: hook.raw })).status;
  }

  it('stamps every attempt and signs timestamp, idempotency key and body; the docs recipes verify it', async () => {
    const hook = await sendOne('hk_replay_1');
    const ts = hook.headers['x-appconnect-timestamp'];
    assert.match(String(ts), /^\d+$/);
    const sentAt = Number(ts);
    assert.ok(Math.abs(sentAt - Date.now() / 1000) < 5);
    assert.equal(hook.status, 200);
    assert.equal(hook.timedSignatureValid, true);
    assert.equal(
      verifyHookSignature(hook.raw, hook.headers['x-appconnect-signature'] as string, [SECRET]),
      true,
      'the body signature as before',
    );
    assert.deepEqual(docRecipes(hook.raw, hook.headers, [SECRET], sentAt), { js: true, python: true });
    assert.deepEqual(docRecipes(hook.raw, hook.headers, [SECRET], sentAt + 301), { js: false, python: false }, 'over five minutes old');
    assert.deepEqual(docRecipes(hook.raw, hook.headers, [SECRET], sentAt - 301), { js: false, python: false }, 'from the future');
    const otherKey = { ...hook.headers, 'idempotency-key': 'hk_other' };
    assert.deepEqual(docRecipes(hook.raw, otherKey, [SECRET], sentAt), { js: false, python: false }, 'another key');
    assert.equal(verifyTimedHook(hook.raw, otherKey, [SECRET], sentAt), false);
    assert.equal(verifyTimedHook(`${hook.raw} `, hook.headers, [SECRET], sentAt), false, 'another body');
  });

  it('a replay under another idempotency-key, or the same hook later, is refused by a partner that checks', async () => {
    const hook = await sendOne('hk_replay_2');
    assert.equal(await replay(hook), 200, 'the same attempt at once: a duplicate the key dedupes');
    assert.equal(await replay(hook, { 'idempotency-key': 'hk_fresh_key' }), 401, 'a new key the body signature alone would let through');
    assert.equal(verifyHookSignature(hook.raw, hook.headers['x-appconnect-signature'] as string, [SECRET]), true);
    server.now = () => Date.now() + 6 * 60_000;
    assert.equal(await replay(hook), 401, 'six minutes later');
    assert.equal(server.received.at(-1)?.timedSignatureValid, false);
  });
});
