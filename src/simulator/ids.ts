import { randomBytes } from 'node:crypto';

/** A fresh 32-hex identifier, the shape Talkdesk uses for ids. */
export function hexId(): string {
  return randomBytes(16).toString('hex');
}

/** An unguessable opaque secret (client secrets, access tokens). */
export function opaqueSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** ISO time without milliseconds, as in Talkdesk's events ("2016-06-14T16:23:07Z"). */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
