import type { z } from 'zod';
import { DisallowedHostError, TalkdeskHttpError, TalkdeskProtocolError, TalkdeskUnavailableError } from './errors';
import { errorBodySchema } from './schemas';

/**
 * Turning raw answers (status, headers, body text) and transport failures into
 * the client's results and safe errors. Nothing from a request (headers, body)
 * and nothing free-form from a response body reaches an error.
 */

/** Upper bound on an honoured Retry-After: a longer wait belongs to the workflow, not to one retry. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
const ERRNO = /^E[A-Z0-9_]{1,39}$|^ERR_[A-Z0-9_]{1,40}$/;

/** Marker code our DNS guard uses when a wildcard host resolves to a non-public address. */
export const DISALLOWED_ADDRESS_CODE = 'E_TALKDESK_DISALLOWED_ADDRESS';

/** Retry-After as delay seconds or an HTTP date → milliseconds (0 … MAX_RETRY_AFTER_MS), else undefined. */
export function parseRetryAfter(value: unknown, nowMs: number = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
  // HTTP dates start with a weekday name; Date.parse alone would also take "-5" as a year.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  // Every HTTP date is GMT; the obsolete asctime form says no zone, and Date.parse would take it as local time.
  const at = Date.parse(/\b(GMT|UTC)\b|[+-]\d{4}\b/.test(v) ? v : `${v} GMT`);
  if (!Number.isFinite(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/**
 * Talkdesk's error code, kept only when it is a short identifier and shares no
 * part with a secret we sent (an echoing server could put a token there).
 */
export function safeErrorCode(bodyText: string, secrets: readonly string[]): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    return undefined;
  }
  const parsed = errorBodySchema.safeParse(json);
  if (!parsed.success) return undefined;
  for (const candidate of [parsed.data.error, parsed.data.code]) {
    const code = typeof candidate === 'number' && Number.isInteger(candidate) ? String(candidate) : candidate;
    if (typeof code !== 'string') continue;
    const looksLikeCode = IDENTIFIER.test(code) || /^\d{1,12}$/.test(code);
    if (looksLikeCode && (OAUTH_ERROR_CODES.has(code) || !overlapsSecret(code, secrets))) return code;
  }
  return undefined;
}

/**
 * RFC 6749 §5.2's error codes: constants, never an echo, so kept even when a secret we sent overlaps them (a browser's
 * made-up authorization code `invalid_grant` must not hide Talkdesk's refusal of it, which the sign-in budget counts).
 */
const OAUTH_ERROR_CODES: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
]);

function overlapsSecret(value: string, secrets: readonly string[]): boolean {
  return secrets.some((s) => s.length > 0 && (s.includes(value) || value.includes(s)) && Math.min(s.length, value.length) >= 4);
}

/** Host of a Location header (for advice text), never its path or query. */
function locationHost(location: unknown, base: URL): string | undefined {
  if (typeof location !== 'string') return undefined;
  try {
    return new URL(location, base).host;
  } catch {
    return undefined;
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/** The TalkdeskHttpError for a non-2xx answer. */
export function errorFromResponse(res: RawResponse, endpoint: string, url: URL, secrets: readonly string[]): TalkdeskHttpError {
  const code = safeErrorCode(res.body, secrets);
  const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
  const redirectHost = res.status >= 300 && res.status < 400 ? locationHost(res.headers['location'], url) : undefined;
  return new TalkdeskHttpError({
    status: res.status,
    endpoint,
    ...(code !== undefined ? { code } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(redirectHost !== undefined ? { redirectHost } : {}),
  });
}

/** Parses a 2xx JSON body with its schema; TalkdeskProtocolError (paths and issue codes only) when it does not fit. */
export function parseBody<S extends z.ZodType>(schema: S, res: RawResponse, endpoint: string): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    throw new TalkdeskProtocolError({ status: res.status, endpoint, issues: ['(body): not JSON'] });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(body)'}: ${i.code}`);
    throw new TalkdeskProtocolError({ status: res.status, endpoint, issues });
  }
  return parsed.data;
}

/**
 * A transport failure (axios or socket error) → a safe error. Only the error's
 * `code` is read, and only when it looks like an errno/axios code: the object
 * itself holds the request config (token, assertion) and is dropped.
 */
export function errorFromTransport(err: unknown, endpoint: string, host: string, timedOut: boolean): Error {
  if (timedOut) return new TalkdeskUnavailableError({ endpoint, code: 'ETIMEDOUT' });
  const raw = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  if (raw === DISALLOWED_ADDRESS_CODE) {
    return new DisallowedHostError({ host, reason: 'the host resolves to a loopback/private address, and only exactly listed hosts may' });
  }
  const code = typeof raw === 'string' && ERRNO.test(raw) ? raw : 'UNKNOWN';
  return new TalkdeskUnavailableError({ endpoint, code });
}
