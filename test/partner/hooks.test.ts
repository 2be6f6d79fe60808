import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { createLogger } from '../../src/logging/logger';
import {
  HttpProvisioner,
  MongoProvisioner,
  PartnerRefusedError,
  PartnerUnavailableError,
  callKey,
  forwardUserLogout,
  sanitiseReason,
} from '../../src/partner';
import { connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { CONFLICT_RETRY_MS, HookClient } from '../../src/partner/hook-client';
import { TestPartnerServer } from '../support/partner-server';
import { mongoUri, uniqueDbName } from '../support/servers';

const SECRET = 'hooks-unit-secret-0123456789';

describe('HTTP partner hooks: logout, refusals, redirects', function () {
  this.timeout(30_000);
  let db: Database;
  let store: Store;
  let server: TestPartnerServer;
  let partner: HttpProvisioner;
  const ctx = (op: Parameters<typeof callKey>[2]) => ({
    key: callKey('inst1', 'ev1', op),
    occurredAt: '2026-12-05T17:30:00Z',
    signal: new AbortController().signal,
  });

  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('hooks'));
    store = createStore(db, parseKeyring(generateKeySpec('k1')));
    server = await new TestPartnerServer([SECRET]).start();
    partner = new HttpProvisioner({
      url: server.url,
      secrets: [SECRET],
      timeoutMs: 2_000,
      pageSize: 500,
      calls: store.partnerCalls,
      logger: createLogger({ level: 'silent' }),
    });
  });
  after(async () => {
    await server?.stop();
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  it('forwards user.logout with the Talkdesk user id and email', async () => {
    await partner.userLogout(
      {
        installationId: 'inst1',
        accountId: 'acct1',
        talkdeskUserId: 'u-2',
        email: 'rui@acme.test',
        occurredAt: '2026-12-05T17:30:00Z',
        loggedOutAt: '2026-12-05T17:29:10.000Z',
        eventId: 'ev1',
      },
      ctx('user.logout'),
    );
    const req = { installationId: 'inst1', accountId: 'acct1', talkdeskUserId: 'u-3', occurredAt: '2026-12-05T17:31:00Z', eventId: 'ev2' };
    assert.equal(await forwardUserLogout(partner, req), true);
    assert.equal(await forwardUserLogout(new MongoProvisioner(store), req), false, 'the built-in provisioner takes no logouts');
    const [hook, second] = server.hooks('user.logout', 'inst1');
    assert.ok(hook?.signatureValid);
    assert.equal(second?.body.id, callKey('inst1', 'ev2', 'user.logout'));
    assert.equal(hook.body.occurred_at, '2026-12-05T17:30:00Z');
    assert.deepEqual(hook.body.data, {
      talkdesk_user_id: 'u-2',
      email: 'rui@acme.test',
      event_id: 'ev1',
      logged_out_at: '2026-12-05T17:29:10.000Z', // the time the service judged its sessions by
    });
    // A forward an older version kept (no loggedOutAt): its occurred_at.
    assert.equal(second?.body.data.logged_out_at, '2026-12-05T17:31:00Z');
  });

  it('records a refused trial and does not fail the call', async () => {
    server.answerNext({ status: 400, body: { reason: 'unknown\u0000 account <script>' } });
    await partner.trial(
      { installationId: 'inst1', accountId: 'acct1', type: 'app.trial_extended', trial: { expiresAt: '2027-01-01T00:00:00Z' } },
      ctx('account.trial'),
    );
    const [rec] = (await store.partnerCalls.forInstallation('inst1')).filter((r) => r.type === 'account.trial');
    assert.equal(rec?.status, 'refused');
    assert.equal(rec?.httpStatus, 400);
    assert.equal(rec?.reason, 'unknown account script', 'sanitised');
  });

  it('refuses to follow a redirect: the call is retryable and the target never called', async () => {
    let targetCalled = false;
    const target = http.createServer((_req, res) => {
      targetCalled = true;
      res.end();
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
    server.answerNext({ status: 307, headers: { location: targetUrl } });
    try {
      await assert.rejects(
        partner.update({ accountId: 'acct1', installationId: 'inst1', usersAdded: [], usersRemoved: [] }, ctx('account.update')),
        (err: Error) => err instanceof PartnerUnavailableError && /redirect \(307\)/.test(err.message),
      );
      assert.equal(targetCalled, false);
    } finally {
      target.closeAllConnections();
      await new Promise<void>((r) => target.close(() => r()));
    }
  });

  it('reads at most 64 KB of an answer: a 2xx streaming without end is taken as done (its body ignored), not waited out', async () => {
    let sent = 0;
    const endless = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const more = () => {
        if (res.destroyed) return;
        sent += chunk.length;
        res.write(chunk, () => setImmediate(more));
      };
      more();
    });
    await new Promise<void>((r) => endless.listen(0, '127.0.0.1', r));
    const streaming = new HttpProvisioner({
      url: `http://127.0.0.1:${(endless.address() as AddressInfo).port}/`,
      secrets: [SECRET],
      timeoutMs: 2_000,
      pageSize: 500,
      calls: store.partnerCalls,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      await streaming.update({ accountId: 'acct1', installationId: 'inst1', usersAdded: [], usersRemoved: [] }, ctx('account.update'));
      // Read whole, the answer was taken in until the call's timeout (hundreds of MB from a local server):
      // now the read stops past 64 KB, and the socket's buffers hold the rest of what was sent.
      assert.ok(sent < 32 * 1024 * 1024, `${sent} bytes sent before the read stopped`);
    } finally {
      endless.closeAllConnections();
      await new Promise<void>((r) => endless.close(() => r()));
    }
  });

  it("a 2xx whose answer breaks off before its end is retried, not taken as done (a proxy's page cut short passed for the partner's)", async () => {
    const cutting = http.createServer((_req, res) => {
      // Chunked: the page's start, then the connection reset before the last chunk.
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<!doctype html><html><body>Sign in to continue', () => setTimeout(() => res.destroy(), 50));
    });
    await new Promise<void>((r) => cutting.listen(0, '127.0.0.1', r));
    const client = new HookClient({
      url: `http://127.0.0.1:${(cutting.address() as AddressInfo).port}/`,
      secrets: [SECRET],
      timeoutMs: 2_000,
    });
    try {
      await assert.rejects(
        client.send('{"type":"account.provision"}', 'key-cut', new AbortController().signal),
        (err: unknown) => err instanceof PartnerUnavailableError && /answered 200 but its answer broke off/.test(err.message),
      );
    } finally {
      cutting.closeAllConnections();
      await new Promise<void>((r) => cutting.close(() => r()));
    }
  });

  it("takes a 2xx as done unless it is an HTML document: a proxy's page is retried, a bare OK labelled text/html is not", async () => {
    const update = () =>
      partner.update({ accountId: 'acct1', installationId: 'inst1', usersAdded: [], usersRemoved: [] }, ctx('account.update'));
    const page = '<!doctype html><html><body>Sign in to continue</body></html>';
    server.answerNext({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, raw: page });
    await assert.rejects(update(), (err: Error) => {
      assert.ok(err instanceof PartnerUnavailableError);
      assert.match(err.message, /answered 200 with a web page \(text\/html\)/);
      assert.ok(!err.message.includes('Sign in'), 'the body is not copied');
      return true;
    });
    // XHTML with its XML declaration, a page opening with a comment (both taken as done before), one with a byte
    // order mark (\s matched it already): pages too.
    for (const [type, raw] of [
      ['application/xhtml+xml', '<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'],
      ['text/html', '<!-- proxy: sign-in -->\n<!DOCTYPE html><html></html>'],
      ['text/html', '\uFEFF<!doctype html><html></html>'],
    ]) {
      server.answerNext({ status: 200, headers: { 'content-type': type! }, raw });
      await assert.rejects(update(), PartnerUnavailableError, `${type}: ${raw!.slice(0, 30)}`);
    }
    // A page longer than the 64 KB read (a sign-in page with its scripts inline) is still a page.
    server.answerNext({ status: 200, headers: { 'content-type': 'text/html' }, raw: `<!doctype html><html>${'x'.repeat(70_000)}</html>` });
    await assert.rejects(update(), PartnerUnavailableError);
    // Anything else a 2xx carries is done: empty, JSON, or a plain `OK` (its body is ignored).
    // Frameworks label a bare answer text/html (Express's res.send('OK'), Django, Flask): not a page, done.
    server.answerNext(
      { status: 204 },
      { status: 200, raw: '"ok"' },
      { status: 200, headers: { 'content-type': 'text/plain' }, raw: 'OK' },
      { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, raw: 'OK' },
      { status: 200, headers: { 'content-type': 'text/html' }, raw: '' },
    );
    for (let i = 0; i < 5; i++) await update();
  });

  it('reads a JSON answer that begins with a byte order mark (some frameworks write one): its reason is kept', async () => {
    const bom = (status: number, body: unknown) => ({
      status,
      headers: { 'content-type': 'application/json' },
      raw: `\uFEFF${JSON.stringify(body)}`,
    });
    server.answerNext(bom(422, { reason: 'No seats left' }));
    const update = partner.update({ accountId: 'acct1', installationId: 'inst1', usersAdded: [], usersRemoved: [] }, ctx('account.update'));
    await assert.rejects(update, (err: unknown) => err instanceof PartnerRefusedError && err.reason === 'No seats left');
    // With a reason, a 409 is final at once (read as no reason, it was retried for 10 minutes).
    server.answerNext(bom(409, { reason: 'Plan change not allowed' }));
    const again = partner.update({ accountId: 'acct1', installationId: 'inst1', usersAdded: [], usersRemoved: [] }, ctx('account.update'));
    await assert.rejects(again, (err: unknown) => err instanceof PartnerRefusedError && err.reason === 'Plan change not allowed');
  });

  it('a 409 without a reason (idempotency middleware: the same key still in progress) is retried; with a reason it refuses', async () => {
    const update = () =>
      partner.update({ accountId: 'acct1', installationId: 'inst1', usersAdded: [], usersRemoved: [] }, ctx('account.update'));
    // Stripe's shape, the IETF draft's problem+json, and an empty body: none gives a reason.
    server.answerNext(
      { status: 409, body: { error: { type: 'idempotency_error', message: 'request in progress' } }, headers: { 'retry-after': '3' } },
      {
        status: 409,
        headers: { 'content-type': 'application/problem+json' },
        body: { title: 'A request is outstanding for this Idempotency-Key' },
      },
      { status: 409, body: { reason: '   ' } },
    );
    for (let i = 0; i < 3; i++) {
      await assert.rejects(update(), (err: Error) => {
        assert.ok(err instanceof PartnerUnavailableError, `attempt ${i}: ${err.name}`);
        assert.match(err.message, /409 without a reason/);
        if (i === 0) assert.equal(err.retryAfterMs, 3_000);
        return true;
      });
    }
    server.answerNext({ status: 409, body: { reason: 'Plan change not allowed mid-cycle' } });
    await assert.rejects(update(), (err: Error) => {
      assert.ok(err instanceof PartnerRefusedError);
      assert.equal(err.reason, 'Plan change not allowed mid-cycle');
      assert.equal(err.status, 409);
      return true;
    });
  });

  it('a 4xx without a reason refuses naming its status (a 401 from a signature mismatch says more than "refused")', async () => {
    server.answerNext({ status: 401 }, { status: 403, body: { error: 'forbidden' } });
    for (const status of [401, 403]) {
      await assert.rejects(
        partner.update({ accountId: 'acct1', installationId: 'inst1', usersAdded: [], usersRemoved: [] }, ctx('account.update')),
        (err: Error) => {
          assert.ok(err instanceof PartnerRefusedError, err.name);
          assert.equal(err.reason, `The partner refused the request (HTTP ${status})`);
          return true;
        },
      );
    }
  });

  it('a bare 409 is retried for CONFLICT_RETRY_MS from the first one for that key, then refuses (a call without a deadline cannot hang on it)', async () => {
    let clock = 1_000_000;
    const client = new HookClient({ url: server.url, secrets: [SECRET], timeoutMs: 2_000, now: () => clock });
    const send = (id: string) =>
      client.send(JSON.stringify({ id, type: 'account.revert_update', data: {} }), id, new AbortController().signal);
    server.answerNext({ status: 409 }, { status: 409 }, { status: 409 }, { status: 409 });
    await assert.rejects(send('hk-409-a'), PartnerUnavailableError);
    clock += CONFLICT_RETRY_MS - 1;
    await assert.rejects(send('hk-409-a'), PartnerUnavailableError, 'still within the window');
    // Another key has a window of its own.
    await assert.rejects(send('hk-409-b'), PartnerUnavailableError);
    clock += 1;
    await assert.rejects(send('hk-409-a'), (err: Error) => {
      assert.ok(err instanceof PartnerRefusedError, err.name);
      assert.equal(err.status, 409);
      assert.equal(err.reason, 'The partner refused the request (HTTP 409)');
      return true;
    });
  });

  it('an undo or a revert that overtakes its provision or update (still processing at the partner) leaves nothing of it', async () => {
    const slow = new HttpProvisioner({
      url: server.url,
      secrets: [SECRET],
      timeoutMs: 200,
      pageSize: 500,
      calls: store.partnerCalls,
      logger: createLogger({ level: 'silent' }),
    });
    type Op = Parameters<typeof callKey>[2];
    /** The context the activities give: an undo or revert names the call it undoes, from the same event. */
    const of = (inst: string, op: Op, undoes?: Op) => ({
      ...ctx(op),
      key: callKey(inst, 'ev1', op),
      ...(undoes ? { undoes: callKey(inst, 'ev1', undoes) } : {}),
    });
    const account = { accountId: 'acct2', installationId: 'inst2', appId: 'app1', name: 'Two' };
    const u = (id: string) => ({ id, role: 'user' as const });
    server.processingMs = (b) => (b.type === 'account.provision' || b.type === 'account.update' ? 600 : 0);
    try {
      await assert.rejects(slow.provision({ account, users: [u('u1')] }, of('inst2', 'account.provision')), PartnerUnavailableError);
      await slow.undoProvision({ installationId: 'inst2', accountId: 'acct2' }, of('inst2', 'account.undo_provision', 'account.provision'));
      await server.settled();
      assert.equal(server.accounts.has('acct2'), false, 'the provision that committed after its undo changed nothing');

      // Another install's update still processing when its revert arrives: the update then changes nothing.
      const inst = 'inst3';
      await partner.provision({ account: { ...account, installationId: inst }, users: [u('u1')] }, of(inst, 'account.provision'));
      const req = { accountId: 'acct2', installationId: inst, usersAdded: [u('u9')], usersRemoved: [], subscription: { plan: 'gold' } };
      await assert.rejects(slow.update(req, of(inst, 'account.update')), PartnerUnavailableError);
      const revert = { accountId: 'acct2', installationId: inst, usersAdded: ['u9'], usersDeactivated: [], previousSubscription: {} };
      await slow.revertUpdate(revert, of(inst, 'account.revert_update', 'account.update'));
      await server.settled();
      assert.deepEqual([...(server.accounts.get('acct2')?.users.keys() ?? [])], ['u1']);
      assert.deepEqual(server.accounts.get('acct2')?.subscription, {});
    } finally {
      server.processingMs = () => 0;
    }
  });

  it('bounds and cleans reasons', () => {
    assert.equal(sanitiseReason(undefined), 'The partner refused the request');
    assert.equal(sanitiseReason('  '), 'The partner refused the request');
    assert.equal(sanitiseReason('x'.repeat(500)).length, 200);
    assert.equal(sanitiseReason('line\nbreak\ttab'), 'line break tab');
  });
});
