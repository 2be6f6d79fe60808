import assert from 'node:assert/strict';
import {
  ClientAssertionError,
  DisallowedHostError,
  TalkdeskHttpError,
  TalkdeskProtocolError,
  TalkdeskRequestError,
  TalkdeskUnavailableError,
} from '../../src/talkdesk/errors';
import { SsoFailure, talkdeskFailure } from '../../src/web/launch/reasons';

/**
 * A sign-in's failed Talkdesk call is told to the person as what it was: Talkdesk unreachable, Talkdesk
 * refusing (which call, what it answered), or our own fault before anything was sent (500 internal_error,
 * as docs/launch.md says of a link outside TALKDESK_ALLOWED_HOSTS), never "Talkdesk refused" for ours.
 */
describe('launch: failures of Talkdesk calls at sign-in', () => {
  const facts = { installationId: 'inst-1', accountId: 'acct-1' };
  const as = (err: unknown, step: string) => {
    const failure = talkdeskFailure(err, facts, step);
    assert.ok(failure instanceof SsoFailure, String(failure));
    return [failure.reason, failure.facts.detail, failure.facts.installationId];
  };

  it('Talkdesk not reached, or answering an error: the call and the answer in detail', () => {
    assert.deepEqual(as(new TalkdeskUnavailableError({ endpoint: 'POST /oauth/token', code: 'ETIMEDOUT' }), 'token'), [
      'talkdesk_unreachable',
      'token',
      'inst-1',
    ]);
    assert.deepEqual(as(new TalkdeskHttpError({ status: 403, endpoint: 'GET /apps/x/installations/y/users' }), 'licensed_users'), [
      'talkdesk_refused',
      'licensed_users_forbidden_403',
      'inst-1',
    ]);
    assert.deepEqual(as(new TalkdeskProtocolError({ status: 200, endpoint: 'GET /users/me', issues: ['id: missing'] }), 'userinfo'), [
      'talkdesk_refused',
      'userinfo_protocol_200',
      'inst-1',
    ]);
  });

  it("Talkdesk's 429 is talkdesk_busy, its Retry-After in whole seconds (at least one) when it gave one", () => {
    const limited = (retryAfterMs?: number) =>
      talkdeskFailure(
        new TalkdeskHttpError({ status: 429, endpoint: 'POST /oauth/token', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }),
        facts,
        'token',
      ) as SsoFailure;
    assert.deepEqual(
      [limited(2500).reason, limited(2500).facts.detail, limited(2500).facts.retryAfterSeconds],
      ['talkdesk_busy', 'token_rate_limited_429', 3],
    );
    assert.equal(limited(0).facts.retryAfterSeconds, 1);
    assert.equal(limited().reason, 'talkdesk_busy');
    assert.equal('retryAfterSeconds' in limited().facts, false, 'none given, none made up');
  });

  it('our own fault before anything was sent is internal_error', () => {
    assert.deepEqual(as(new DisallowedHostError({ host: 'evil.example', reason: 'not in TALKDESK_ALLOWED_HOSTS' }), 'userinfo'), [
      'internal_error',
      'userinfo_DisallowedHostError',
      'inst-1',
    ]);
    assert.deepEqual(as(new ClientAssertionError('unknown key_algorithm'), 'token'), [
      'internal_error',
      'token_ClientAssertionError',
      'inst-1',
    ]);
    assert.deepEqual(as(new TalkdeskRequestError('empty id'), 'licensed_users'), [
      'internal_error',
      'licensed_users_TalkdeskRequestError',
      'inst-1',
    ]);
  });

  it('anything else is passed on as it was', () => {
    const other = new Error('store down');
    assert.equal(talkdeskFailure(other, facts, 'token'), other);
  });
});
