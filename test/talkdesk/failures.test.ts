import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import {
  ClientAssertionError,
  DisallowedHostError,
  TalkdeskHttpError,
  TalkdeskProtocolError,
  TalkdeskRequestError,
  TalkdeskUnavailableError,
  kindForStatus,
} from '../../src/talkdesk/errors';
import { NON_RETRYABLE_TALKDESK_FAILURE_TYPES, TALKDESK_FAILURE_TYPES, toActivityFailure } from '../../src/talkdesk/failures';
import { MAX_RETRY_AFTER_MS, parseRetryAfter, safeErrorCode } from '../../src/talkdesk/responses';

const endpoint = 'GET /account';

describe('talkdesk/failures', () => {
  it('maps every client error to its failure type and retryability', () => {
    const cases: [Error, string, boolean][] = [
      [new TalkdeskHttpError({ status: 502, endpoint }), 'TalkdeskUnavailable', true],
      [new TalkdeskHttpError({ status: 408, endpoint }), 'TalkdeskUnavailable', true],
      [new TalkdeskHttpError({ status: 429, endpoint }), 'TalkdeskRateLimited', true],
      [new TalkdeskHttpError({ status: 400, endpoint }), 'TalkdeskBadRequest', false],
      [new TalkdeskHttpError({ status: 422, endpoint }), 'TalkdeskBadRequest', false],
      [new TalkdeskHttpError({ status: 400, endpoint, code: 'invalid_client' }), 'TalkdeskInvalidClient', false],
      [new TalkdeskHttpError({ status: 401, endpoint, code: 'invalid_client' }), 'TalkdeskInvalidClient', false],
      [new TalkdeskHttpError({ status: 401, endpoint, code: 'invalid_token' }), 'TalkdeskUnauthorized', true],
      [new TalkdeskHttpError({ status: 403, endpoint }), 'TalkdeskForbidden', false],
      [new TalkdeskHttpError({ status: 404, endpoint }), 'TalkdeskNotFound', false],
      [new TalkdeskHttpError({ status: 409, endpoint }), 'TalkdeskConflict', false],
      [new TalkdeskHttpError({ status: 301, endpoint }), 'TalkdeskProtocol', false],
      [new TalkdeskHttpError({ status: 405, endpoint }), 'TalkdeskProtocol', false],
      [new TalkdeskProtocolError({ status: 200, endpoint, issues: ['id: invalid_type'] }), 'TalkdeskProtocol', false],
      [new TalkdeskUnavailableError({ endpoint, code: 'ECONNRESET' }), 'TalkdeskUnavailable', true],
      [new DisallowedHostError({ host: 'evil.com', reason: 'not listed' }), 'TalkdeskHostNotAllowed', false],
      [new ClientAssertionError('bad key'), 'TalkdeskInvalidKey', false],
      [new TalkdeskRequestError('empty id'), 'TalkdeskInvalidRequest', false],
    ];
    for (const [err, type, retryable] of cases) {
      const failure = toActivityFailure(err);
      assert.ok(failure instanceof ApplicationFailure);
      assert.equal(failure.type, type, err.message);
      assert.equal(failure.nonRetryable, !retryable, err.message);
      assert.equal(NON_RETRYABLE_TALKDESK_FAILURE_TYPES.includes(type as never), !retryable, type);
      assert.equal(failure.message, err.message);
    }
  });

  it('honours Retry-After on 429 and 503', () => {
    assert.equal(toActivityFailure(new TalkdeskHttpError({ status: 429, endpoint, retryAfterMs: 1500 })).nextRetryDelay, 1500);
    assert.equal(toActivityFailure(new TalkdeskHttpError({ status: 503, endpoint, retryAfterMs: 2000 })).nextRetryDelay, 2000);
  });

  it('an unknown error becomes a retryable TalkdeskUnexpected naming only its class and code', () => {
    const secret = 'Bearer eyJhbGciOi.secret.token';
    const err = Object.assign(new TypeError(`boom ${secret}`), { code: 'ERR_SOMETHING', config: { headers: { Authorization: secret } } });
    const failure = toActivityFailure(err);
    assert.equal(failure.type, TALKDESK_FAILURE_TYPES.unexpected);
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /Unexpected TypeError \(ERR_SOMETHING\)/);
    assert.ok(!failure.message.includes(secret) && !JSON.stringify(failure.details).includes(secret));
    assert.equal(failure.cause, undefined);

    const odd = toActivityFailure(Object.assign(new Error('x'), { name: 'has spaces: secret', code: 'lower-case secret' }));
    assert.match(odd.message, /^Unexpected Error while calling Talkdesk/);
    assert.match(toActivityFailure('a string secret').message, /^Unexpected string /);
  });

  it('passes an ApplicationFailure through unchanged', () => {
    const original = ApplicationFailure.nonRetryable('already mapped', 'Custom');
    assert.equal(toActivityFailure(original), original);
  });

  it('every failure message says what to do next', () => {
    for (const status of [400, 401, 403, 404, 409, 429, 500, 302]) {
      assert.match(new TalkdeskHttpError({ status, endpoint }).message, /(check|retry|read|get a new token)/i, String(status));
    }
    assert.match(new TalkdeskUnavailableError({ endpoint, code: 'ETIMEDOUT' }).message, /retry later/);
    assert.match(new DisallowedHostError({ host: 'x', reason: 'y' }).message, /TALKDESK_ALLOWED_HOSTS/);
  });

  it('kindForStatus', () => {
    assert.deepEqual([400, 401, 403, 404, 409, 429, 500, 599, 302, 418].map(kindForStatus), [
      'bad_request',
      'unauthorized',
      'forbidden',
      'not_found',
      'conflict',
      'rate_limited',
      'server_error',
      'server_error',
      'redirect',
      'unexpected_status',
    ]);
  });

  it('parseRetryAfter: seconds, HTTP date, garbage, cap', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter(' 12 ', now), 12_000);
    assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Mon, 31 Dec 2029 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('-5', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('999999', now), MAX_RETRY_AFTER_MS);
  });

  it('parseRetryAfter: the RFC 850 and asctime forms, as GMT on a worker whose local zone is not', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const tz = process.env['TZ'];
    process.env['TZ'] = 'America/New_York'; // Node applies a TZ set at run time
    try {
      assert.equal(parseRetryAfter('Tue Jan  1 00:00:30 2030', now), 30_000, 'asctime: no zone written, GMT meant');
      assert.equal(parseRetryAfter('Tuesday, 01-Jan-30 00:00:30 GMT', now), 30_000);
      assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', now), 30_000);
    } finally {
      if (tz === undefined) delete process.env['TZ'];
      else process.env['TZ'] = tz;
    }
  });

  it('safeErrorCode keeps short identifiers only, and never one that overlaps a secret', () => {
    assert.equal(safeErrorCode('{"error":"invalid_client","error_description":"x"}', []), 'invalid_client');
    assert.equal(safeErrorCode('{"code":"0341001","message":"m"}', []), '0341001');
    assert.equal(safeErrorCode('{"code":341001}', []), '341001');
    assert.equal(safeErrorCode('{"error":"has spaces in it"}', []), undefined);
    assert.equal(safeErrorCode(`{"error":"${'a'.repeat(65)}"}`, []), undefined);
    assert.equal(safeErrorCode('{"error":"abc.def.ghi"}', ['xx.abc.def.ghi.yy']), undefined);
    assert.equal(safeErrorCode('{"error":"tok_1","code":"forbidden"}', ['tok_1']), 'forbidden');
    // RFC 6749's codes are constants, not echoes: kept when a browser's made-up authorization code overlaps them.
    assert.equal(safeErrorCode('{"error":"invalid_grant"}', ['grant', 'assertion']), 'invalid_grant');
    assert.equal(safeErrorCode('not json', []), undefined);
    assert.equal(safeErrorCode('[1,2]', []), undefined);
  });
});
