/**
 * The two ways a partner call fails (contract 4 of provisioner.ts). Messages are
 * built by the service, never copied from a response beyond a bounded, sanitised
 * reason, so they are safe in Temporal history and logs.
 */

/** Retryable: the partner is down, slow, rate limiting, or answered 5xx/408/429. */
export class PartnerUnavailableError extends Error {
  constructor(
    message: string,
    /** The partner's `Retry-After`, when it gave one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'PartnerUnavailableError';
  }
}

/** Final: the partner refused (a 4xx other than 408/429). `reason` may be shown to Talkdesk. */
export class PartnerRefusedError extends Error {
  constructor(
    readonly reason: string,
    readonly status?: number,
  ) {
    super(reason);
    this.name = 'PartnerRefusedError';
  }
}

export const MAX_REASON_LENGTH = 200;
export const GENERIC_REFUSAL = 'The partner refused the request';

/** A reason from the partner, made safe to show: printable text only, bounded. */
export function sanitiseReason(raw: unknown, fallback = GENERIC_REFUSAL): string {
  if (typeof raw !== 'string') return fallback;
  const text = raw
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f<>]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length === 0) return fallback;
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH - 1)}…` : text;
}
