import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { TalkdeskHttpError, TalkdeskProtocolError } from '../../src/talkdesk/errors';
import { toActivityFailure } from '../../src/talkdesk/failures';
import { APP, INST, TOKEN, failureOf, useStubbedClient } from './error-support';
import { sendJson, testKey, type StubHandler } from './stub';

describe('talkdesk/errors: secrets', () => {
  const t = useStubbedClient();
  /** How an ES256 token request to the stub fails. */
  const tokenFailure = (clientId: string, keyId: string, privateKey: string) =>
    failureOf(() => t.client.requestToken({ tokenUrl: `${t.stub.origin}/oauth/token`, clientId, keyId, algorithm: 'ES256', privateKey }));

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
      t.handler = echo(400);
      const err = await failureOf(() => t.client.getInstallation(t.stub.origin, APP, INST, TOKEN));
      assert.ok(err instanceof TalkdeskHttpError);
      assert.equal(err.code, undefined, 'an echoed secret is not a Talkdesk error code');
      assertClean(err, [TOKEN, `Bearer ${TOKEN}`, TOKEN.split('.')[2] ?? '']);
    });

    it('bearer call with a short identifier-like token', async () => {
      t.handler = echo(400);
      const short = 'tok_abc123';
      const err = await failureOf(() => t.client.getAccount(t.stub.origin, short));
      assert.ok(err instanceof TalkdeskHttpError);
      assertClean(err, [short]);
    });

    it('token call: the assertion echoed back', async () => {
      t.handler = echo(400);
      const err = await tokenFailure('client-1', 'key-1', testKey('ES256').privateKeyBase64Der);
      const assertion = new URLSearchParams(t.stub.requests[0]?.body).get('client_assertion') ?? '';
      assert.ok(assertion.split('.').length === 3);
      assert.ok(err instanceof TalkdeskHttpError);
      assert.equal(err.endpoint, 'POST /oauth/token');
      assertClean(err, [assertion, ...assertion.split('.').slice(1), testKey('ES256').privateKeyBase64Der.slice(0, 40)]);
    });

    it('a 200 token answer of the wrong shape does not echo the access token', async () => {
      t.handler = (_req, res) => sendJson(res, 200, { access_token: 'secret-access-token-xyz', token_type: 'Bearer', expires_in: 'soon' });
      const err = await tokenFailure('c', 'k', testKey('ES256').privateKeyPem);
      assert.ok(err instanceof TalkdeskProtocolError);
      assertClean(err, ['secret-access-token-xyz']);
    });
  });
});
