/** Keys whose values are secrets wherever they appear, at any depth. */
const SECRET_KEYS = new Set(
  [
    'client_secret',
    'clientSecret',
    'private_key',
    'privateKey',
    'access_token',
    'accessToken',
    'refresh_token',
    'client_assertion',
    'clientAssertion',
    'authorization',
    'password',
    'secret',
    'secrets',
    'token',
    'x-hub-signature',
    'cookie',
    'SECRETS_KEY',
    'TALKDESK_WEBHOOK_SECRET',
  ].map((k) => k.toLowerCase()),
);

export const REDACTED = '[redacted]';

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase());
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

/** A string with the credentials of any URL in it replaced. */
export function scrubUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
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
