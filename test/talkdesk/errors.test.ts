import assert from 'node:assert/strict';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { TalkdeskHttpError, TalkdeskProtocolError } from '../../src/talkdesk/errors';
import { TALKDESK_FAILURE_TYPES, toActivityFailure } from '../../src/talkdesk/failures';
import { APP, INST, TOKEN, failureOf, useStubbedClient } from './error-support';
import { sendJson, startStub } from './stub';

describe('talkdesk/errors: statuses', () => {
  const t = useStubbedClient();

  const statusCases: { status: number; body: unknown; kind: string; code?: string; failure: string; retryable: boolean; advice: RegExp }[] =
    [
      {
        status: 500,
        body: { code: 'internal' },
        kind: 'server_error',
        code: 'internal',
        failure: TALKDESK_FAILURE_TYPES.unavailable,
        retryable: true,
        advice: /retry later/,
      },
      {
        status: 503,
        body: 'Service Unavailable',
        kind: 'server_error',
        failure: TALKDESK_FAILURE_TYPES.unavailable,
        retryable: true,
        advice: /retry later/,
      },
      {
        status: 400,
        body: { code: '0341001', message: 'bad', fields: [] },
        kind: 'bad_request',
        code: '0341001',
        failure: TALKDESK_FAILURE_TYPES.badRequest,
        retryable: false,
        advice: /check the ids and body/,
      },
      {
        status: 401,
        body: { error: 'invalid_client', error_description: 'bad assertion' },
        kind: 'unauthorized',
        code: 'invalid_client',
        failure: TALKDESK_FAILURE_TYPES.invalidClient,
        retryable: false,
        advice: /client_id, key_id and private key/,
      },
      {
        status: 401,
        body: { code: 'unauthorized' },
        kind: 'unauthorized',
        code: 'unauthorized',
        failure: TALKDESK_FAILURE_TYPES.unauthorized,
        retryable: true,
        advice: /newly granted scope/,
      },
      {
        status: 403,
        body: { error: 'forbidden' },
        kind: 'forbidden',
        code: 'forbidden',
        failure: TALKDESK_FAILURE_TYPES.forbidden,
        retryable: false,
        advice: /scopes in Talkdesk Builder/,
      },
      {
        status: 404,
        body: { error: 'not_found' },
        kind: 'not_found',
        code: 'not_found',
        failure: TALKDESK_FAILURE_TYPES.notFound,
        retryable: false,
        advice: /installation id/,
      },
      {
        status: 409,
        body: { error: 'conflict' },
        kind: 'conflict',
        code: 'conflict',
        failure: TALKDESK_FAILURE_TYPES.conflict,
        retryable: false,
        advice: /read the installation state/,
      },
    ];

  for (const c of statusCases) {
    it(`${c.status} ${c.code ?? ''} → ${c.kind} → ${c.failure} (${c.retryable ? 'retryable' : 'final'})`, async () => {
      t.handler = (_req, res) => {
        if (typeof c.body !== 'string') return sendJson(res, c.status, c.body);
        res.writeHead(c.status, { 'content-type': 'text/plain' });
        res.end(c.body);
      };
      const err = await failureOf(() => t.client.setInstallationState(`${t.stub.origin}/`, APP, INST, TOKEN, { state: 'approve' }));
      assert.ok(err instanceof TalkdeskHttpError);
      assert.equal(err.kind, c.kind);
      assert.equal(err.status, c.status);
      assert.equal(err.code, c.code);
      assert.equal(err.endpoint, `POST /apps/${APP}/installations/${INST}/state`);
      assert.match(err.message, c.advice);
      const failure = toActivityFailure(err);
      assert.equal(failure.type, c.failure);
      assert.equal(failure.nonRetryable, !c.retryable);
      assert.equal(failure.message, err.message);
      const { message: _message, ...details } = err.toJSON();
      assert.deepEqual(failure.details, [details]);
    });
  }

  it('429 with Retry-After seconds → retryable TalkdeskRateLimited with nextRetryDelay', async () => {
    t.handler = (_req, res) => sendJson(res, 429, { code: 'too_many_requests' }, { 'retry-after': '7' });
    const err = await failureOf(() => t.client.getAccount(t.stub.origin, TOKEN));
    assert.ok(err instanceof TalkdeskHttpError);
    assert.equal(err.kind, 'rate_limited');
    assert.equal(err.retryAfterMs, 7_000);
    assert.match(err.message, /retry after 7 s/);
    const failure = toActivityFailure(err);
    assert.equal(failure.type, 'TalkdeskRateLimited');
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 7_000);
  });

  it('429 with Retry-After as an HTTP date, and without Retry-After', async () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    t.handler = (_req, res) => sendJson(res, 429, {}, { 'retry-after': at });
    const dated = await failureOf(() => t.client.getAccount(t.stub.origin, TOKEN));
    assert.ok(dated instanceof TalkdeskHttpError);
    assert.ok(dated.retryAfterMs !== undefined && dated.retryAfterMs > 25_000 && dated.retryAfterMs <= 30_000, String(dated.retryAfterMs));

    t.handler = (_req, res) => sendJson(res, 429, {});
    const bare = await failureOf(() => t.client.getAccount(t.stub.origin, TOKEN));
    assert.ok(bare instanceof TalkdeskHttpError);
    assert.equal(bare.retryAfterMs, undefined);
    assert.equal(toActivityFailure(bare).nextRetryDelay, undefined);
  });

  it('a redirect to another host is not followed and becomes a final protocol failure', async () => {
    const elsewhere = await startStub((_req, res) => sendJson(res, 200, { id: 'x', name: 'x' }));
    try {
      const both = new TalkdeskClient({ allowedHosts: [t.stub.host, elsewhere.host], timeoutMs: 2_000 });
      t.handler = (_req, res) => {
        res.writeHead(302, { location: `${elsewhere.origin}/account?token=${TOKEN}` });
        res.end();
      };
      const err = await failureOf(() => both.getAccount(t.stub.origin, TOKEN));
      assert.ok(err instanceof TalkdeskHttpError);
      assert.equal(err.kind, 'redirect');
      assert.equal(err.status, 302);
      assert.match(err.message, new RegExp(`redirect to ${elsewhere.host}.*never followed`));
      assert.ok(!err.message.includes(TOKEN));
      assert.equal(elsewhere.requests.length, 0);
      const failure = toActivityFailure(err);
      assert.equal(failure.type, TALKDESK_FAILURE_TYPES.protocol);
      assert.equal(failure.nonRetryable, true);
    } finally {
      await elsewhere.close();
    }
  });

  it('a 200 whose body is not JSON or misses fields is a final protocol failure', async () => {
    t.handler = (_req, res) => sendJson(res, 200, { id: 'acc-1' });
    const missing = await failureOf(() => t.client.getAccount(t.stub.origin, TOKEN));
    assert.ok(missing instanceof TalkdeskProtocolError);
    assert.deepEqual(missing.issues, ['name: invalid_type']);

    t.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
    };
    const html = await failureOf(() => t.client.getAccount(t.stub.origin, TOKEN));
    assert.ok(html instanceof TalkdeskProtocolError);
    const failure = toActivityFailure(html);
    assert.equal(failure.type, 'TalkdeskProtocol');
    assert.equal(failure.nonRetryable, true);
  });
});
