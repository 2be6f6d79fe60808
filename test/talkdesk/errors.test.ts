import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { DisallowedHostError, TalkdeskHttpError, TalkdeskProtocolError, TalkdeskUnavailableError } from '../../src/talkdesk/errors';
import { TALKDESK_FAILURE_TYPES, toActivityFailure } from '../../src/talkdesk/failures';
import { closedPort, sendJson, startStub, testKey, type Stub, type StubHandler } from './stub';

const APP = 'app-1';
const INST = 'inst-1';
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0b2tlbiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

/** Runs `fn`, expecting it to reject; returns the error. */
async function failureOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

describe('talkdesk/errors: statuses, transport failures and secrets', () => {
  let stub: Stub;
  let handler: StubHandler;
  let client: TalkdeskClient;

  before(async () => {
    stub = await startStub((req, res) => handler(req, res));
    client = new TalkdeskClient({ allowedHosts: [stub.host], timeoutMs: 2_000 });
  });
  after(() => stub.close());
  beforeEach(() => {
    stub.requests.length = 0;
  });

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
      handler = (_req, res) => {
        if (typeof c.body !== 'string') return sendJson(res, c.status, c.body);
        res.writeHead(c.status, { 'content-type': 'text/plain' });
        res.end(c.body);
      };
      const err = await failureOf(() => client.setInstallationState(`${stub.origin}/`, APP, INST, TOKEN, { state: 'approve' }));
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
    handler = (_req, res) => sendJson(res, 429, { code: 'too_many_requests' }, { 'retry-after': '7' });
    const err = await failureOf(() => client.getAccount(stub.origin, TOKEN));
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
    handler = (_req, res) => sendJson(res, 429, {}, { 'retry-after': at });
    const dated = await failureOf(() => client.getAccount(stub.origin, TOKEN));
    assert.ok(dated instanceof TalkdeskHttpError);
    assert.ok(dated.retryAfterMs !== undefined && dated.retryAfterMs > 25_000 && dated.retryAfterMs <= 30_000, String(dated.retryAfterMs));

    handler = (_req, res) => sendJson(res, 429, {});
    const bare = await failureOf(() => client.getAccount(stub.origin, TOKEN));
    assert.ok(bare instanceof TalkdeskHttpError);
    assert.equal(bare.retryAfterMs, undefined);
    assert.equal(toActivityFailure(bare).nextRetryDelay, undefined);
  });

  it('a redirect to another host is not followed and becomes a final protocol failure', async () => {
    const elsewhere = await startStub((_req, res) => sendJson(res, 200, { id: 'x', name: 'x' }));
    try {
      const both = new TalkdeskClient({ allowedHosts: [stub.host, elsewhere.host], timeoutMs: 2_000 });
      handler = (_req, res) => {
        res.writeHead(302, { location: `${elsewhere.origin}/account?token=${TOKEN}` });
        res.end();
      };
      const err = await failureOf(() => both.getAccount(stub.origin, TOKEN));
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
    handler = (_req, res) => sendJson(res, 200, { id: 'acc-1' });
    const missing = await failureOf(() => client.getAccount(stub.origin, TOKEN));
    assert.ok(missing instanceof TalkdeskProtocolError);
    assert.deepEqual(missing.issues, ['name: invalid_type']);

    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
    };
    const html = await failureOf(() => client.getAccount(stub.origin, TOKEN));
    assert.ok(html instanceof TalkdeskProtocolError);
    const failure = toActivityFailure(html);
    assert.equal(failure.type, 'TalkdeskProtocol');
    assert.equal(failure.nonRetryable, true);
  });

  it('timeout → TalkdeskUnavailableError ETIMEDOUT, retryable', async () => {
    const quick = new TalkdeskClient({ allowedHosts: [stub.host], timeoutMs: 200 });
    handler = () => undefined; // never answers
    const started = Date.now();
    const err = await failureOf(() => quick.getAccount(stub.origin, TOKEN));
    assert.ok(Date.now() - started < 1_500);
    assert.ok(err instanceof TalkdeskUnavailableError);
    assert.equal(err.code, 'ETIMEDOUT');
    assert.equal(err.endpoint, 'GET /account');
    assertNoAxiosLeak(err);
    const failure = toActivityFailure(err);
    assert.equal(failure.type, 'TalkdeskUnavailable');
    assert.equal(failure.nonRetryable, false);
  });

  it('timeout while the server drips the body slowly still ends at the deadline', async () => {
    const quick = new TalkdeskClient({ allowedHosts: [stub.host], timeoutMs: 300 });
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    };
    const err = await failureOf(() => quick.getAccount(stub.origin, TOKEN));
    assert.ok(err instanceof TalkdeskUnavailableError);
    assert.equal(err.code, 'ETIMEDOUT');
  });

  it('connection refused → TalkdeskUnavailableError ECONNREFUSED, retryable', async () => {
    const port = await closedPort();
    const refused = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${port}`], timeoutMs: 2_000 });
    const err = await failureOf(() => refused.getAccount(`http://127.0.0.1:${port}`, TOKEN));
    assert.ok(err instanceof TalkdeskUnavailableError);
    assert.equal(err.code, 'ECONNREFUSED');
    assertNoAxiosLeak(err);
    assert.equal(toActivityFailure(err).nonRetryable, false);
  });

  it('dropped socket → TalkdeskUnavailableError ECONNRESET, retryable', async () => {
    handler = (_req, res) => {
      res.socket?.destroy();
    };
    const err = await failureOf(() => client.getAccount(stub.origin, TOKEN));
    assert.ok(err instanceof TalkdeskUnavailableError);
    assert.equal(err.code, 'ECONNRESET');
    assertNoAxiosLeak(err);
    assert.equal(toActivityFailure(err).type, 'TalkdeskUnavailable');
  });

  it('a disallowed URL → final TalkdeskHostNotAllowed, nothing sent', async () => {
    const err = await failureOf(() => client.getAccount('https://api.talkdeskapp.com@evil.com', TOKEN));
    assert.ok(err instanceof DisallowedHostError);
    const failure = toActivityFailure(err);
    assert.equal(failure.type, 'TalkdeskHostNotAllowed');
    assert.equal(failure.nonRetryable, true);
    assert.equal(stub.requests.length, 0);
  });

  it('a wildcard-matched host that resolves to loopback → final TalkdeskHostNotAllowed, no connection', async () => {
    const rebinding = new TalkdeskClient({
      allowedHosts: ['*.talkdeskid.com'],
      timeoutMs: 2_000,
      resolver: (_host, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
    });
    const err = await failureOf(() => rebinding.getAccount('https://evil.talkdeskid.com', TOKEN));
    assert.ok(err instanceof DisallowedHostError, String(err));
    assert.equal(err.host, 'evil.talkdeskid.com');
    assert.equal(toActivityFailure(err).type, 'TalkdeskHostNotAllowed');
  });

  describe('a 400 echoing the token and the assertion leaks neither', () => {
    function echo(status: number): StubHandler {
      return (req, res) => {
        const form = new URLSearchParams(req.body);
        const assertion = form.get('client_assertion') ?? '';
        const auth = req.headers['authorization'] ?? '';
        const bearer = auth.replace(/^Bearer /, '');
        sendJson(
          res,
          status,
          {
            error: bearer || assertion,
            code: assertion || bearer,
            message: `you sent ${auth} ${assertion}`,
            error_description: `assertion=${assertion}`,
            access_token: bearer,
            client_assertion: assertion,
            fields: [{ name: 'authorization', value: auth }],
          },
          { 'x-echo-authorization': auth, 'x-echo-assertion': assertion, 'www-authenticate': `Bearer error="${bearer}"` },
        );
      };
    }

    function assertClean(err: unknown, secrets: string[]): void {
      const failure = toActivityFailure(err);
      const views = [
        JSON.stringify(err),
        err instanceof Error ? err.message : '',
        String(err),
        err instanceof Error ? (err.stack ?? '') : '',
        inspect(err, { depth: 10 }),
        failure.message,
        JSON.stringify(failure.details),
        inspect(failure, { depth: 10 }),
      ];
      for (const secret of secrets) {
        assert.ok(secret.length > 0);
        for (const view of views) {
          assert.ok(!view.includes(secret), `leaked ${secret.slice(0, 12)}… in ${view.slice(0, 200)}`);
        }
      }
      assert.ok(!('cause' in (err as object)) || (err as { cause?: unknown }).cause === undefined);
      assert.equal(failure.cause, undefined);
    }

    it('bearer call: the token echoed in body fields and headers', async () => {
      handler = echo(400);
      const err = await failureOf(() => client.getInstallation(stub.origin, APP, INST, TOKEN));
      assert.ok(err instanceof TalkdeskHttpError);
      assert.equal(err.code, undefined, 'an echoed secret is not a Talkdesk error code');
      assertClean(err, [TOKEN, `Bearer ${TOKEN}`, TOKEN.split('.')[2] ?? '']);
    });

    it('bearer call with a short identifier-like token', async () => {
      handler = echo(400);
      const short = 'tok_abc123';
      const err = await failureOf(() => client.getAccount(stub.origin, short));
      assert.ok(err instanceof TalkdeskHttpError);
      assertClean(err, [short]);
    });

    it('token call: the assertion echoed back', async () => {
      handler = echo(400);
      const err = await failureOf(() =>
        client.requestToken({
          tokenUrl: `${stub.origin}/oauth/token`,
          clientId: 'client-1',
          keyId: 'key-1',
          algorithm: 'ES256',
          privateKey: testKey('ES256').privateKeyBase64Der,
        }),
      );
      const assertion = new URLSearchParams(stub.requests[0]?.body).get('client_assertion') ?? '';
      assert.ok(assertion.split('.').length === 3);
      assert.ok(err instanceof TalkdeskHttpError);
      assert.equal(err.endpoint, 'POST /oauth/token');
      assertClean(err, [assertion, ...assertion.split('.').slice(1), testKey('ES256').privateKeyBase64Der.slice(0, 40)]);
    });

    it('a 200 token answer of the wrong shape does not echo the access token', async () => {
      handler = (_req, res) => sendJson(res, 200, { access_token: 'secret-access-token-xyz', token_type: 'Bearer', expires_in: 'soon' });
      const err = await failureOf(() =>
        client.requestToken({
          tokenUrl: `${stub.origin}/oauth/token`,
          clientId: 'c',
          keyId: 'k',
          algorithm: 'ES256',
          privateKey: testKey('ES256').privateKeyPem,
        }),
      );
      assert.ok(err instanceof TalkdeskProtocolError);
      assertClean(err, ['secret-access-token-xyz']);
    });
  });
});

/** The error carries nothing of axios: no config, request, response or cause. */
function assertNoAxiosLeak(err: Error): void {
  const text = `${JSON.stringify(err)} ${inspect(err, { depth: 10 })}`;
  assert.ok(!text.includes(TOKEN));
  assert.ok(!text.includes('Bearer'));
  for (const key of ['config', 'request', 'response', 'cause']) assert.ok(!(key in err), key);
}
