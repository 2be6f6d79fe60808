import { isIP } from 'node:net';
import { z } from 'zod';

/** The shapes environment variables are read in (env.ts): one rule each, shared by every variable of that shape. */

/** A decimal number: an empty value or `0x10` is refused, not read as 0 or 16 (z.coerce would). */
export const num = <T extends z.ZodNumber>(n: T) =>
  z
    .string()
    .regex(/^\s*-?\d+(\.\d+)?\s*$/, 'must be a decimal number (an empty value is not unset: remove the variable for the default)')
    .transform(Number)
    .pipe(n);

// TEMPORAL_* as the SDK reads them (docs/configuration.md): an empty value is unset (its default applies).
export const emptyIsUnset = <T extends z.ZodType>(t: T) => z.preprocess((v) => (v === '' ? undefined : v), t);
export const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

export const csv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );

export const httpUrl = z
  .string()
  .url('must be an absolute URL')
  .refine((v) => /^https?:\/\//.test(v), 'must be an http(s) URL')
  .transform((v) => v.replace(/\/+$/, ''));

/** `<IPv4>:<port>` or `[<IPv6>]:<port>`, as the SDK's metrics listener parses it; empty too (metrics off). */
function isSocketAddress(v: string): boolean {
  if (v === '') return true;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
  const port = Number(m?.[3]);
  // No IPv6 zone (`%eth0`): Node's isIP takes one, the SDK's parser does not.
  return m !== null && port <= 65_535 && (m[1] ? isIP(m[1]) === 6 && !m[1].includes('%') : isIP(m[2] ?? '') === 4);
}

/** The SDK's metrics listener takes an IP address and port only (a host name was refused after the store connection). */
export const socketAddress = z
  .string()
  .refine(isSocketAddress, 'must be an IP address and port (127.0.0.1:9464, [::1]:9464), or empty to turn the metrics off');
