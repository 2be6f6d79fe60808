import assert from 'node:assert/strict';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { DisallowedHostError, TalkdeskUnavailableError } from '../../src/talkdesk/errors';
import { toActivityFailure } from '../../src/talkdesk/failures';
import { TOKEN, assertNoAxiosLeak, failureOf, useStubbedClient } from './error-support';
import { closedPort } from './stub';

describe('talkdesk/errors: transport failures and refused hosts', () => {
  const t = useStubbedClient();

  it('timeout → TalkdeskUnavailableError ETIMEDOUT, retryable', async () => {
    const quick = new TalkdeskClient({ allowedHosts: [t.stub.host], timeoutMs: 200 });
    t.handler = () => undefined; // never answers: without the client's timeout this would meet the test's
    const err = await failureOf(() => quick.getAccount(t.stub.origin, TOKEN));
    assert.ok(err instanceof TalkdeskUnavailableError);
    assert.equal(err.code, 'ETIMEDOUT');
    assert.equal(err.endpoint, 'GET /account');
    assertNoAxiosLeak(err);
    const failure = toActivityFailure(err);
    assert.equal(failure.type, 'TalkdeskUnavailable');
    assert.equal(failure.nonRetryable, false);
  });

  it('timeout while the server drips the body slowly still ends at the deadline', async () => {
    const quick = new TalkdeskClient({ allowedHosts: [t.stub.host], timeoutMs: 300 });
    t.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    };
    const err = await failureOf(() => quick.getAccount(t.stub.origin, TOKEN));
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
    t.handler = (_req, res) => {
      res.socket?.destroy();
    };
    const err = await failureOf(() => t.client.getAccount(t.stub.origin, TOKEN));
    assert.ok(err instanceof TalkdeskUnavailableError);
    assert.equal(err.code, 'ECONNRESET');
    assertNoAxiosLeak(err);
    assert.equal(toActivityFailure(err).type, 'TalkdeskUnavailable');
  });

  it('a disallowed URL → final TalkdeskHostNotAllowed, nothing sent', async () => {
    // User info before the stub's own (allowed) host: sent, it would reach the stub.
    const err = await failureOf(() => t.client.getAccount(t.stub.origin.replace('://', '://api.talkdeskapp.com@'), TOKEN));
    assert.ok(err instanceof DisallowedHostError);
    const failure = toActivityFailure(err);
    assert.equal(failure.type, 'TalkdeskHostNotAllowed');
    assert.equal(failure.nonRetryable, true);
    assert.equal(t.stub.requests.length, 0);
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
});
