import { ApplicationFailure } from '@temporalio/common';
import {
  ClientAssertionError,
  DisallowedHostError,
  TalkdeskError,
  TalkdeskHttpError,
  TalkdeskRequestError,
  TalkdeskUnavailableError,
} from './errors';

/**
 * Talkdesk client errors as Temporal activity failures. The type names are the
 * contract with workflows and retry policies; retryability is decided here, once.
 */
export const TALKDESK_FAILURE_TYPES = {
  unavailable: 'TalkdeskUnavailable',
  rateLimited: 'TalkdeskRateLimited',
  badRequest: 'TalkdeskBadRequest',
  invalidClient: 'TalkdeskInvalidClient',
  unauthorized: 'TalkdeskUnauthorized',
  forbidden: 'TalkdeskForbidden',
  notFound: 'TalkdeskNotFound',
  conflict: 'TalkdeskConflict',
  hostNotAllowed: 'TalkdeskHostNotAllowed',
  protocol: 'TalkdeskProtocol',
  invalidKey: 'TalkdeskInvalidKey',
  invalidRequest: 'TalkdeskInvalidRequest',
  unexpected: 'TalkdeskUnexpected',
} as const;
export type TalkdeskFailureType = (typeof TALKDESK_FAILURE_TYPES)[keyof typeof TALKDESK_FAILURE_TYPES];

/** Types toActivityFailure marks non-retryable; usable as RetryPolicy.nonRetryableErrorTypes. */
export const NON_RETRYABLE_TALKDESK_FAILURE_TYPES: readonly TalkdeskFailureType[] = [
  TALKDESK_FAILURE_TYPES.badRequest,
  TALKDESK_FAILURE_TYPES.invalidClient,
  TALKDESK_FAILURE_TYPES.forbidden,
  TALKDESK_FAILURE_TYPES.notFound,
  TALKDESK_FAILURE_TYPES.conflict,
  TALKDESK_FAILURE_TYPES.hostNotAllowed,
  TALKDESK_FAILURE_TYPES.protocol,
  TALKDESK_FAILURE_TYPES.invalidKey,
  TALKDESK_FAILURE_TYPES.invalidRequest,
];

const SAFE_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;
const SAFE_CODE = /^[A-Z][A-Z0-9_]{0,39}$/;

function failure(err: TalkdeskError, type: TalkdeskFailureType, retryAfterMs?: number): ApplicationFailure {
  const { message: _message, ...details } = err.toJSON();
  return ApplicationFailure.create({
    type,
    message: err.message,
    nonRetryable: NON_RETRYABLE_TALKDESK_FAILURE_TYPES.includes(type),
    details: [details],
    ...(retryAfterMs !== undefined ? { nextRetryDelay: retryAfterMs } : {}),
  });
}

function httpFailureType(err: TalkdeskHttpError): TalkdeskFailureType {
  switch (err.kind) {
    case 'server_error':
      return TALKDESK_FAILURE_TYPES.unavailable;
    case 'rate_limited':
      return TALKDESK_FAILURE_TYPES.rateLimited;
    case 'bad_request':
      return err.isInvalidClient ? TALKDESK_FAILURE_TYPES.invalidClient : TALKDESK_FAILURE_TYPES.badRequest;
    case 'unauthorized':
      // A newly granted scope can answer 401 for some minutes: only invalid_client is final.
      return err.isInvalidClient ? TALKDESK_FAILURE_TYPES.invalidClient : TALKDESK_FAILURE_TYPES.unauthorized;
    case 'forbidden':
      return TALKDESK_FAILURE_TYPES.forbidden;
    case 'not_found':
      return TALKDESK_FAILURE_TYPES.notFound;
    case 'conflict':
      return TALKDESK_FAILURE_TYPES.conflict;
    case 'unexpected_status':
      return err.status === 408 ? TALKDESK_FAILURE_TYPES.unavailable : TALKDESK_FAILURE_TYPES.protocol;
    case 'redirect':
    case 'protocol':
      return TALKDESK_FAILURE_TYPES.protocol;
  }
}

/**
 * The ApplicationFailure an activity should throw for `err`. Client errors keep
 * their safe message; anything else becomes a retryable TalkdeskUnexpected that
 * names only the error's class and code (its message could hold secrets).
 * An ApplicationFailure passes through unchanged.
 */
export function toActivityFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof TalkdeskHttpError) {
    const type = httpFailureType(err);
    const delay = type === TALKDESK_FAILURE_TYPES.rateLimited || type === TALKDESK_FAILURE_TYPES.unavailable ? err.retryAfterMs : undefined;
    return failure(err, type, delay);
  }
  if (err instanceof TalkdeskUnavailableError) return failure(err, TALKDESK_FAILURE_TYPES.unavailable);
  if (err instanceof DisallowedHostError) return failure(err, TALKDESK_FAILURE_TYPES.hostNotAllowed);
  if (err instanceof ClientAssertionError) return failure(err, TALKDESK_FAILURE_TYPES.invalidKey);
  if (err instanceof TalkdeskRequestError) return failure(err, TALKDESK_FAILURE_TYPES.invalidRequest);

  const rawName = err instanceof Error ? err.name : typeof err;
  const name = SAFE_NAME.test(rawName) ? rawName : 'Error';
  const rawCode = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  const code = typeof rawCode === 'string' && SAFE_CODE.test(rawCode) ? rawCode : undefined;
  return ApplicationFailure.create({
    type: TALKDESK_FAILURE_TYPES.unexpected,
    message:
      `Unexpected ${name}${code ? ` (${code})` : ''} while calling Talkdesk; it will be retried. ` +
      'If it persists, look at the worker logs for this activity and report it',
    nonRetryable: false,
    details: [{ name, ...(code ? { code } : {}) }],
  });
}
