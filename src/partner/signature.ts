import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries a hook's signature. */
export const SIGNATURE_HEADER = 'x-appconnect-signature';

/** `sha256=<hex HMAC-SHA256 of the raw body>` keyed with `secret`. */
export function signHook(rawBody: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/**
 * The verification a partner's service does (copy it, or port it: see
 * docs/partner.md). Checks the raw body, in constant time, against every secret
 * given, so a secret can be rotated: configure the new one first in
 * PARTNER_HOOKS_SECRET (it signs), keep the old one in the partner's list until
 * the change is out.
 */
export function verifyHookSignature(rawBody: string | Buffer, header: string | undefined, secrets: readonly string[]): boolean {
  if (!header || !header.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  if (given.length !== 32) return false;
  return secrets.some((secret) => {
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    return timingSafeEqual(expected, given);
  });
}
