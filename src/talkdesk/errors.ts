import { AppError } from '../errors';

/**
 * Errors of the Talkdesk client. Every one is safe to log and serialize: built
 * only from a status, an endpoint (`METHOD /path`, no query string), short
 * identifier-like codes and our own advice text. None holds a header, a token,
 * an assertion, a request body or a `cause` (axios errors carry the request
 * config, bearer token and form body included, so they never get attached).
 */
export abstract class TalkdeskError extends AppError {
  /** What JSON.stringify and structured loggers see: the same safe fields. */
  abstract toJSON(): Record<string, unknown>;
}

export const TALKDESK_HTTP_ERROR_KINDS = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'server_error',
  'redirect',
  'unexpected_status',
  'protocol',
] as const;
export type TalkdeskHttpErrorKind = (typeof TALKDESK_HTTP_ERROR_KINDS)[number];

/** The `kind` of a non-2xx status. */
export function kindForStatus(status: number): TalkdeskHttpErrorKind {
  if (status === 400 || status === 422) return 'bad_request';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 429) return 'rate_limited';
  if (status >= 500 && status <= 599) return 'server_error';
  if (status >= 300 && status <= 399) return 'redirect';
  return 'unexpected_status';
}

export interface TalkdeskHttpErrorInit {
  status: number;
  /** `METHOD /path`, never with the query string. */
  endpoint: string;
  /** Talkdesk's `{error}` / `{code}`, only when short and identifier-like. */
  code?: string;
  retryAfterMs?: number;
  /** Redirect target host, for the advice text (never the full Location). */
  redirectHost?: string;
}

function advice(kind: TalkdeskHttpErrorKind, init: TalkdeskHttpErrorInit): string {
  switch (kind) {
    case 'bad_request':
      if (init.code === 'invalid_client') {
        return 'the client credentials were refused; check the stored client_id, key_id and private key (a credentials rotation may have replaced them)';
      }
      return 'the request was refused as malformed; check the ids and body sent, retrying unchanged will not help';
    case 'unauthorized':
      if (init.code === 'invalid_client') {
        return 'the client credentials were refused; check the stored client_id, key_id and private key (a credentials rotation may have replaced them, or the app was uninstalled)';
      }
      return 'the access token was refused; get a new token and retry (a newly granted scope can answer 401 for some minutes)';
    case 'forbidden':
      return "the token lacks a required scope or the app may not act on this installation; check the app's scopes in Talkdesk Builder and the installation's granted scopes";
    case 'not_found':
      return 'Talkdesk does not know this resource; check the app id, installation id and the region root URL (the installation may be gone)';
    case 'conflict':
      return 'the resource is in a state that does not allow this change; read the installation state before trying again';
    case 'rate_limited':
      return init.retryAfterMs !== undefined
        ? `rate limited; retry after ${Math.ceil(init.retryAfterMs / 1000)} s`
        : 'rate limited; retry with backoff';
    case 'server_error':
      return 'Talkdesk failed to handle the request; retry later';
    case 'redirect':
      return `Talkdesk answered with a redirect${init.redirectHost ? ` to ${init.redirectHost}` : ''}, which is never followed; check that the URL is the event's _links href (https, right region)`;
    case 'unexpected_status':
      return 'the status is not part of the API contract; check the URL and Talkdesk status page';
    case 'protocol':
      return 'the response body does not have the documented shape; check the API version and report it, retrying will not help';
  }
}

/** Talkdesk answered with a non-2xx status (or a 2xx whose body failed its schema: see TalkdeskProtocolError). */
export class TalkdeskHttpError extends TalkdeskError {
  readonly kind: TalkdeskHttpErrorKind;
  readonly status: number;
  readonly endpoint: string;
  readonly code?: string;
  readonly retryAfterMs?: number;

  constructor(init: TalkdeskHttpErrorInit, kind: TalkdeskHttpErrorKind = kindForStatus(init.status), detail?: string) {
    const codePart = init.code !== undefined ? ` (${init.code})` : '';
    super(`Talkdesk answered ${init.status}${codePart} to ${init.endpoint}: ${detail ? `${detail}; ` : ''}${advice(kind, init)}`);
    this.kind = kind;
    this.status = init.status;
    this.endpoint = init.endpoint;
    if (init.code !== undefined) this.code = init.code;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }

  /** 401 or 400 with `invalid_client`: the stored credentials are bad, a new token will not help. */
  get isInvalidClient(): boolean {
    return (this.kind === 'unauthorized' || this.kind === 'bad_request') && this.code === 'invalid_client';
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      kind: this.kind,
      status: this.status,
      endpoint: this.endpoint,
      ...(this.code !== undefined ? { code: this.code } : {}),
      ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
    };
  }
}

/** A 2xx response whose body is not what the API documents. Not retryable. */
export class TalkdeskProtocolError extends TalkdeskHttpError {
  /** Schema issues as `path: code` (never the values). */
  readonly issues: string[];

  constructor(init: { status: number; endpoint: string; issues: string[] }) {
    const shown = init.issues.slice(0, 5).join(', ');
    super({ status: init.status, endpoint: init.endpoint }, 'protocol', shown ? `invalid body (${shown})` : 'invalid body');
    this.issues = init.issues;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), issues: this.issues };
  }
}

/** No usable answer: timeout, refused or reset connection, DNS failure. Retryable. */
export class TalkdeskUnavailableError extends TalkdeskError {
  readonly endpoint: string;
  /** ETIMEDOUT, ECONNREFUSED, ECONNRESET, ENOTFOUND, ... */
  readonly code: string;

  constructor(init: { endpoint: string; code: string }) {
    super(
      `Talkdesk could not be reached for ${init.endpoint} (${init.code}); retry later, and check outbound network access if it persists`,
    );
    this.endpoint = init.endpoint;
    this.code = init.code;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, message: this.message, endpoint: this.endpoint, code: this.code };
  }
}

/** A URL outside the outbound allow-list (or unsafe in form). Not retryable. */
export class DisallowedHostError extends TalkdeskError {
  /** `host[:port]` as parsed, absent when the URL did not parse. Never userinfo, path or query. */
  readonly host?: string;
  readonly reason: string;

  constructor(init: { host?: string; reason: string }) {
    super(
      `Refusing to call ${init.host ?? 'a malformed URL'}: ${init.reason}. ` +
        'Use the URLs of the Talkdesk event; add a host to TALKDESK_ALLOWED_HOSTS only if it is a genuine Talkdesk host',
    );
    if (init.host !== undefined) this.host = init.host;
    this.reason = init.reason;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, message: this.message, ...(this.host !== undefined ? { host: this.host } : {}), reason: this.reason };
  }
}

/** The stored credentials cannot sign a client assertion (bad key, unknown algorithm). Not retryable. */
export class ClientAssertionError extends TalkdeskError {
  readonly reason: string;

  constructor(reason: string) {
    super(
      `Cannot sign the Talkdesk client assertion: ${reason}. ` +
        "Check the key_algorithm and private_key stored from the installation's last app.installed or app.credentials_rotated event",
    );
    this.reason = reason;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, message: this.message, reason: this.reason };
  }
}

/** The caller asked for a call that cannot be sent as is (empty or dot id, bad token string). Not retryable. */
export class TalkdeskRequestError extends TalkdeskError {
  readonly reason: string;

  constructor(reason: string) {
    super(`Talkdesk call not sent: ${reason}. This is a bug or bad data on our side; fix the caller`);
    this.reason = reason;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, message: this.message, reason: this.reason };
  }
}
