import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries a hook's signature of the body alone (kept as it was for existing partners). */
export const SIGNATURE_HEADER = 'x-appconnect-signature';
/** The send time of a hook, Unix seconds; a new one on every attempt. */
export const TIMESTAMP_HEADER = 'x-appconnect-timestamp';
/** The signature of `<timestamp>.<idempotency-key>.<raw body>`: a replay is seen as old, a changed key as forged. */
export const TIMED_SIGNATURE_HEADER = 'x-appconnect-signature-v2';
/** The header that carries a hook's id (the body's `id`). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** How far a hook's timestamp may be from the partner's clock (docs/partner.md). */
export const HOOK_TIMESTAMP_TOLERANCE_SECONDS = 300;

/** `sha256=<hex HMAC-SHA256 of the raw body>` keyed with `secret`. */
export function signHook(rawBody: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

const timedMac = (secret: string, timestamp: string, key: string, rawBody: string | Buffer): Buffer =>
  createHmac('sha256', secret).update(`${timestamp}.${key}.`).update(rawBody).digest();

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<key>.<raw body>">` keyed with `secret`. */
export function signHookTimed(rawBody: string | Buffer, key: string, timestamp: string, secret: string): string {
  return `sha256=${timedMac(secret, timestamp, key, rawBody).toString('hex')}`;
}

/** The 32 bytes of a `sha256=<hex>` header, or undefined. */
function givenMac(header: string | undefined): Buffer | undefined {
  if (!header || !header.startsWith('sha256=')) return undefined;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === 32 ? given : undefined;
}

/**
 * The verification a partner's service does (copy it, or port it: see
 * docs/partner.md). Checks the raw body, in constant time, against every secret
 * given, so a secret can be rotated: the partner adds the new one to its list
 * first, then it goes first in PARTNER_HOOKS_SECRET (it signs), and the partner
 * drops the old one once every worker has it. Says nothing about when the hook was
 * sent: prefer verifyTimedHook.
 */
export function verifyHookSignature(rawBody: string | Buffer, header: string | undefined, secrets: readonly string[]): boolean {
  const given = givenMac(header);
  return given !== undefined && secrets.some((secret) => timingSafeEqual(createHmac('sha256', secret).update(rawBody).digest(), given));
}

/**
 * The replay-proof check (docs/partner.md): the timed signature over timestamp, idempotency
 * key and raw body verifies with one of `secrets`, and the timestamp is within
 * HOOK_TIMESTAMP_TOLERANCE_SECONDS of `nowSeconds`. Headers as Node gives them (lower case).
 */
export function verifyTimedHook(
  rawBody: string | Buffer,
  headers: Record<string, string | string[] | undefined>,
  secrets: readonly string[],
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const timestamp = headers[TIMESTAMP_HEADER];
  const key = headers[IDEMPOTENCY_HEADER];
  const signature = headers[TIMED_SIGNATURE_HEADER];
  if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp) || typeof key !== 'string' || typeof signature !== 'string')
    return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > HOOK_TIMESTAMP_TOLERANCE_SECONDS) return false;
  const given = givenMac(signature);
  return given !== undefined && secrets.some((secret) => timingSafeEqual(timedMac(secret, timestamp, key, rawBody), given));
}
