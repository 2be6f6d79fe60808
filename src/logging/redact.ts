/**
 * Names whose values are secrets wherever they appear, at any depth, compared without case,
 * `-`, `_` or spaces, so camelCase, snake_case, header and env-style names all match
 * (refreshToken, id_token, set-cookie, TEMPORAL_API_KEY, SSO_SIGNING_KEYS...): a name that
 * ends in a credential word, optionally followed by a version (x-hub-signature-256, -v2).
 * "key" counts only as part of a credential word (apiKey, privateKey, signingKeys, SECRETS_KEY),
 * so the ids the logs rely on stay visible (keyId, kid, clientId, eventId, idempotency-key),
 * as do public keys (TALKDESK_ECDSA_PUBLIC_KEYS) and the `tokens` link (a URL).
 */
const SECRET_NAME =
  /(?:token|secrets?|password|passwd|passphrase|cookie|authorization|signature|assertion|nonce|jwt|csrf|sessionids?|(?:api|private|signing|secrets?|access)keys?)(?:v?\d+)?$/;

export const REDACTED = '[redacted]';

export function isSecretKey(key: string): boolean {
  return SECRET_NAME.test(key.toLowerCase().replace(/[-_\s]/g, ''));
}

/** `scheme://user:password@host`: a connection string (MONGODB_URI) quoted in an error message. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi;

/** Where a connection string points (scheme, host, port, path), for messages: no user, password or query options. */
export function urlTarget(uri: string): string {
  try {
    const u = new URL(uri);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** A URL's query (or fragment) parameter that carries a secret: an OAuth code or state, a token, a client secret. */
const SECRET_QUERY =
  /([?&#](?:access_token|id_token|refresh_token|token|code|state|client_secret|client_assertion|assertion|password|sig|signature|api[-_]?key|key|access[-_]?key|secret|private[-_]?key)=)[^&\s#"'<>]*/gi;

/** A string with the credentials of any URL in it replaced: its user and password, and its secret parameters. */
export function scrubUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1${REDACTED}@`).replace(SECRET_QUERY, `$1${REDACTED}`);
}

/**
 * Deep copy with every secret-named key replaced, whatever shape the caller passed, and the
 * credentials of any URL in a string (a driver's error message can quote its connection string).
 */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubUrlCredentials(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[truncated]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    return { name: value.name, message: scrubUrlCredentials(value.message) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}
