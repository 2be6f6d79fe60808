/**
 * The two ways a partner call fails (contract 4 of provisioner.ts). The HTTP client's messages are
 * built by the service, never copied from a response beyond a bounded, sanitised reason; a partner's
 * own provisioner may throw any text, so both are cleaned again before history and logs (activities/failures.ts).
 */
import { scrubUrlCredentials } from '../logging/redact';

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

/**
 * The partner did not answer at all (no answer within PARTNER_HOOKS_TIMEOUT_MS, a connection refused or reset): retried
 * as any unavailability (same name in failures); reconciliation's resends stop and pause for it (activities/reconcile-partner.ts).
 */
export class PartnerUnreachableError extends PartnerUnavailableError {}

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

/**
 * A `PartnerUnavailableError`'s message, made safe for Temporal history and logs as a reason is: a partner's own
 * provisioner may throw any text (a client's error quoting a URL with its key). Bounded longer than a reason: the HTTP
 * client's own messages (a few hundred characters, no secrets) pass unchanged.
 */
export function safeUnavailableMessage(raw: unknown): string {
  return sanitiseReason(raw, 'the partner is unavailable', MAX_UNAVAILABLE_LENGTH);
}
const MAX_UNAVAILABLE_LENGTH = 500;

/**
 * A reason from the partner, made safe to show and to keep: printable text only, the credentials of any URL in it
 * scrubbed (a partner's own provisioner may throw any text), bounded.
 */
export function sanitiseReason(raw: unknown, fallback = GENERIC_REFUSAL, max = MAX_REASON_LENGTH): string {
  if (typeof raw !== 'string') return fallback;
  const text = scrubUrlCredentials(raw)
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f<>]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length === 0) return fallback;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
