import assert from 'node:assert/strict';
import { jwtVerify } from 'jose';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { DisallowedHostError, TalkdeskProtocolError, TalkdeskRequestError } from '../../src/talkdesk/errors';
import { sendJson, startStub, testKey, type Stub, type StubHandler } from './stub';

const APP = 'f918e2623486417791f3b5a18ca746ce';
const INST = '9514148a170c4d4aaa344a540cec08c5';
const TOKEN = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.access-token-value';

describe('talkdesk/client', () => {
  let stub: Stub;
  let handler: StubHandler;
  let client: TalkdeskClient;

  before(async () => {
    stub = await startStub((req, res) => handler(req, res));
    client = new TalkdeskClient({ allowedHosts: [stub.host], timeoutMs: 5_000, userAgent: 'talkdesk-client-test' });
  });
  after(() => stub.close());
  beforeEach(() => {
    stub.requests.length = 0;
  });

  describe('requestToken', () => {
    for (const algorithm of ['ES256', 'PS256'] as const) {
      it(`posts the client_credentials form with a ${algorithm} assertion and parses the token`, async () => {
        const key = testKey(algorithm);
        const tokenUrl = `${stub.origin}/oauth/token`;
        handler = (_req, res) =>
          sendJson(res, 200, { access_token: TOKEN, token_type: 'bearer', expires_in: 600, scope: 'apps:read apps:write' });

        const before = Date.now();
        const token = await client.requestToken({
          tokenUrl,
          clientId: 'client-1',
          keyId: 'key-1',
          algorithm,
          privateKey: key.privateKeyBase64Der,
          scopes: ['apps:read', 'apps:write'],
        });
        assert.equal(token.accessToken, TOKEN);
        assert.equal(token.tokenType, 'Bearer');
        assert.equal(token.expiresIn, 600);
        assert.equal(token.scope, 'apps:read apps:write');
        assert.deepEqual(token.scopes, ['apps:read', 'apps:write']);
        assert.ok(token.expiresAt >= before + 600_000 && token.expiresAt <= Date.now() + 600_000);

        const [req] = stub.requests;
        assert.ok(req);
        assert.equal(req.method, 'POST');
        assert.equal(req.url, '/oauth/token');
        assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
        assert.equal(req.headers['authorization'], undefined);
        assert.equal(req.headers['user-agent'], 'talkdesk-client-test');
        const form = new URLSearchParams(req.body);
        assert.equal(form.get('grant_type'), 'client_credentials');
        assert.equal(form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
        assert.equal(form.get('scope'), 'apps:read apps:write');
        const { payload, protectedHeader } = await jwtVerify(form.get('client_assertion') ?? '', key.publicKey, {
          audience: tokenUrl,
          issuer: 'client-1',
          subject: 'client-1',
        });
        assert.equal(protectedHeader.kid, 'key-1');
        assert.equal(payload.exp, (payload.iat ?? 0) + 300);
      });
    }

    it('omits scope when none is asked and accepts a missing scope in the answer', async () => {
      handler = (_req, res) => sendJson(res, 200, { access_token: TOKEN, token_type: 'Bearer', expires_in: 600 });
      const token = await client.requestToken({
        tokenUrl: `${stub.origin}/oauth/token`,
        clientId: 'c',
        keyId: 'k',
        algorithm: 'ES256',
        privateKey: testKey('ES256').privateKeyPem,
      });
      assert.equal(token.scope, '');
      assert.deepEqual(token.scopes, []);
      assert.equal(new URLSearchParams(stub.requests[0]?.body).has('scope'), false);
    });

    it('refuses a token URL outside the allow-list before signing or sending anything', async () => {
      await assert.rejects(
        client.requestToken({
          // The stub's own address under a name the allow-list lacks: sent, it would reach the stub.
          tokenUrl: `${stub.origin.replace('127.0.0.1', 'localhost')}/oauth/token`,
          clientId: 'c',
          keyId: 'k',
          algorithm: 'ES256',
          privateKey: 'x',
        }),
        DisallowedHostError,
      );
      assert.equal(stub.requests.length, 0);
    });

    it('treats a token answer of the wrong shape as a protocol error', async () => {
      handler = (_req, res) => sendJson(res, 200, { access_token: TOKEN, token_type: 'mac', expires_in: 600 });
      await assert.rejects(
        client.requestToken({
          tokenUrl: `${stub.origin}/oauth/token`,
          clientId: 'c',
          keyId: 'k',
          algorithm: 'ES256',
          privateKey: testKey('ES256').privateKeyBase64Der,
        }),
        (err: unknown) => {
          assert.ok(err instanceof TalkdeskProtocolError);
          assert.deepEqual(err.issues, ['token_type: custom']);
          assert.ok(!err.message.includes(TOKEN));
          return true;
        },
      );
    });
  });

  describe('API calls', () => {
    it('getAccount sends the bearer token in the Authorization header only', async () => {
      handler = (_req, res) =>
        sendJson(res, 200, { id: 'acc-1', name: 'starship', company_name: null, timezone: 'Europe/Lisbon', extra: 1 });
      const account = await client.getAccount(stub.origin, TOKEN);
      assert.deepEqual(account, { id: 'acc-1', name: 'starship', timezone: 'Europe/Lisbon' });
      const [req] = stub.requests;
      assert.equal(req?.url, '/account');
      assert.equal(req?.headers['authorization'], `Bearer ${TOKEN}`);
      assert.equal(req?.headers['accept'], 'application/json');
      assert.ok(!req?.url.includes(TOKEN));
    });

    it('keeps a path prefix of the root and URL-encodes path segments', async () => {
      handler = (_req, res) => sendJson(res, 200, { id: 'a/b?c', email: 'a@b.c', name: 'A', active: true });
      const user = await client.getUser(`${stub.origin}/gateway/`, 'a/b?c', TOKEN);
      assert.equal(user.id, 'a/b?c');
      assert.equal(stub.requests[0]?.url, '/gateway/users/a%2Fb%3Fc');
    });

    it('refuses ids that are dot segments or empty', async () => {
      await assert.rejects(client.getUser(stub.origin, '..', TOKEN), TalkdeskRequestError);
      await assert.rejects(client.getUser(stub.origin, '%2e%2E', TOKEN), TalkdeskRequestError);
      await assert.rejects(client.getInstallation(stub.origin, APP, '', TOKEN), TalkdeskRequestError);
      await assert.rejects(client.getAccount(stub.origin, 'bad\r\ntoken'), TalkdeskRequestError);
      assert.equal(stub.requests.length, 0);
    });

    it('getInstallation lifts _embedded.state to state', async () => {
      handler = (_req, res) =>
        sendJson(res, 200, {
          id: INST,
          app_id: APP,
          account_id: 'acc-1',
          scopes: ['apps:read', 'users:read'],
          created_at: '2024-01-01T00:00:00Z',
          _embedded: { state: { state: 'installing', reason: null, updated_at: '2024-01-01T00:00:01Z' } },
          _links: { self: { href: 'x' } },
        });
      const inst = await client.getInstallation(stub.origin, APP, INST, TOKEN);
      assert.deepEqual(inst, {
        id: INST,
        app_id: APP,
        account_id: 'acc-1',
        scopes: ['apps:read', 'users:read'],
        created_at: '2024-01-01T00:00:00Z',
        state: { state: 'installing', updated_at: '2024-01-01T00:00:01Z' },
      });
      assert.equal(stub.requests[0]?.url, `/apps/${APP}/installations/${INST}`);
    });

    it('setInstallationState posts approve and reject bodies', async () => {
      handler = (req, res) => {
        const body = JSON.parse(req.body) as { state: string; reason?: string };
        sendJson(res, 200, {
          state: body.state === 'approve' ? 'completed' : 'rejected',
          reason: body.reason ?? null,
          updated_at: '2024-01-01T00:00:00Z',
          _links: {},
        });
      };
      const approved = await client.setInstallationState(stub.origin, APP, INST, TOKEN, { state: 'approve' });
      assert.deepEqual(approved, { state: 'completed', updated_at: '2024-01-01T00:00:00Z' });
      const rejected = await client.setInstallationState(stub.origin, APP, INST, TOKEN, { state: 'reject', reason: 'no licence' });
      assert.equal(rejected.state, 'rejected');
      assert.equal(rejected.reason, 'no licence');
      assert.equal(stub.requests[0]?.url, `/apps/${APP}/installations/${INST}/state`);
      assert.equal(stub.requests[0]?.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(stub.requests[0]?.body ?? ''), { state: 'approve' });
      assert.deepEqual(JSON.parse(stub.requests[1]?.body ?? ''), { state: 'reject', reason: 'no licence' });
      await assert.rejects(
        client.setInstallationState(stub.origin, APP, INST, TOKEN, { state: 'reject', reason: ' ' }),
        TalkdeskRequestError,
      );
    });

    it('acknowledgeCredentials posts {"state":"acknowledged"} and accepts 202 with an empty body', async () => {
      handler = (_req, res) => {
        res.writeHead(202);
        res.end();
      };
      await client.acknowledgeCredentials(stub.origin, APP, INST, 'client 2', TOKEN);
      const [req] = stub.requests;
      assert.equal(req?.method, 'POST');
      assert.equal(req?.url, `/apps/${APP}/installations/${INST}/credentials/client%202/state`);
      assert.deepEqual(JSON.parse(req?.body ?? ''), { state: 'acknowledged' });
    });
  });

  describe('listLicensedUsers paging', () => {
    const usersPath = `/apps/${APP}/installations/${INST}/users`;

    it('follows _links.next across 3 pages', async () => {
      handler = (req, res) => {
        const page = Number(new URL(req.url, 'http://x').searchParams.get('cursor') ?? '1');
        const next = page < 3 ? { next: { href: `${stub.origin}${usersPath}?cursor=${page + 1}` } } : {};
        sendJson(res, 200, {
          total: 5,
          page,
          per_page: 2,
          _embedded: { users: [{ id: `u${page}a`, email: `${page}a@x.io` }, ...(page < 3 ? [{ id: `u${page}b` }] : [])] },
          _links: { self: { href: req.url }, ...next },
        });
      };
      const users = await client.listLicensedUsers(stub.origin, APP, INST, TOKEN);
      assert.deepEqual(
        users.map((u) => u.id),
        ['u1a', 'u1b', 'u2a', 'u2b', 'u3a'],
      );
      assert.deepEqual(
        stub.requests.map((r) => r.url),
        [usersPath, `${usersPath}?cursor=2`, `${usersPath}?cursor=3`],
      );
      assert.ok(stub.requests.every((r) => r.headers['authorization'] === `Bearer ${TOKEN}`));
    });

    it('follows a relative next link', async () => {
      handler = (req, res) => {
        const first = !req.url.includes('?');
        sendJson(res, 200, {
          _embedded: { users: [{ id: first ? 'a' : 'b' }] },
          _links: first ? { next: { href: `${usersPath}?page=2` } } : { next: null },
        });
      };
      const users = await client.listLicensedUsers(stub.origin, APP, INST, TOKEN);
      assert.deepEqual(
        users.map((u) => u.id),
        ['a', 'b'],
      );
    });

    it('falls back to page numbers when there is no next link', async () => {
      handler = (req, res) => {
        const page = Number(new URL(req.url, 'http://x').searchParams.get('page') ?? '1');
        sendJson(res, 200, { total: 3, page, per_page: 1, _embedded: { users: [{ id: `p${page}` }] } });
      };
      const users = await client.listLicensedUsers(stub.origin, APP, INST, TOKEN);
      assert.deepEqual(
        users.map((u) => u.id),
        ['p1', 'p2', 'p3'],
      );
      assert.equal(stub.requests[2]?.url, `${usersPath}?page=3&per_page=1`);
    });

    it('stops on a next link that loops back', async () => {
      handler = (_req, res) =>
        sendJson(res, 200, { _embedded: { users: [{ id: 'a' }] }, _links: { next: { href: `${stub.origin}${usersPath}` } } });
      await assert.rejects(client.listLicensedUsers(stub.origin, APP, INST, TOKEN), /repeats a page/);
      assert.equal(stub.requests.length, 1);
    });

    it('stops after maxPages', async () => {
      const small = new TalkdeskClient({ allowedHosts: [stub.host], timeoutMs: 5_000, maxPages: 4 });
      handler = (req, res) => {
        const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? '0');
        sendJson(res, 200, { _embedded: { users: [{ id: `u${n}` }] }, _links: { next: { href: `${usersPath}?n=${n + 1}` } } });
      };
      await assert.rejects(small.listLicensedUsers(stub.origin, APP, INST, TOKEN), /more than 4 pages/);
      assert.equal(stub.requests.length, 4);
    });

    it("reads a large account's listing whole by default: more than 200 pages (10,000 users at 20 a page is 500)", async () => {
      const last = 250;
      handler = (req, res) => {
        const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? '1');
        const next = n < last ? { next: { href: `${usersPath}?n=${n + 1}` } } : {};
        sendJson(res, 200, { _embedded: { users: [{ id: `u${n}` }] }, _links: next });
      };
      const users = await client.listLicensedUsers(stub.origin, APP, INST, TOKEN);
      assert.equal(users.length, last);
    });

    it('refuses a next link to another host, even an allow-listed one', async () => {
      const other = await startStub((_req, res) => sendJson(res, 200, { _embedded: { users: [] } }));
      try {
        const both = new TalkdeskClient({ allowedHosts: [stub.host, other.host], timeoutMs: 5_000 });
        handler = (_req, res) =>
          sendJson(res, 200, { _embedded: { users: [{ id: 'a' }] }, _links: { next: { href: `${other.origin}/steal` } } });
        await assert.rejects(both.listLicensedUsers(stub.origin, APP, INST, TOKEN), DisallowedHostError);
        assert.equal(other.requests.length, 0);
      } finally {
        await other.close();
      }
    });
  });
});
