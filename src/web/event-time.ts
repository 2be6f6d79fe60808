/**
 * Bounds on a signed event's `created_at`. Events are ordered by it, so one far in
 * the future (year 9999 is a valid timestamp) would make every later event look
 * older and be superseded. One older than the inbox retention could be a replay
 * of an event whose inbox record was pruned, so it is refused too: the retention
 * window is the window in which a repeated event id is still recognised.
 */
export interface EventTimeLimits {
  /** EVENT_MAX_FUTURE_SKEW_SECONDS, in ms. */
  maxFutureSkewMs: number;
  /** INBOX_RETENTION_DAYS, in ms. */
  maxAgeMs: number;
  /** The latest cutoff the inbox was pruned before (`inbox-pruned-before`), when known: set by the retention sweeper. */
  prunedBeforeMs?: number;
}

const DAY_MS = 86_400_000;

export const DEFAULT_EVENT_TIME_LIMITS: EventTimeLimits = { maxFutureSkewMs: 300_000, maxAgeMs: 30 * DAY_MS };

export function eventTimeLimits(maxFutureSkewSeconds: number, retentionDays: number): EventTimeLimits {
  return { maxFutureSkewMs: maxFutureSkewSeconds * 1000, maxAgeMs: retentionDays * DAY_MS };
}

export interface EventTimeProblem {
  code: 'event_from_future' | 'event_too_old';
  message: string;
}

/** A refusal when `createdAt` (a timestamp the schema accepted) is out of bounds at `now`. */
export function checkEventTime(createdAt: string, now: number, limits: Partial<EventTimeLimits> = {}): EventTimeProblem | undefined {
  const { maxFutureSkewMs, maxAgeMs, prunedBeforeMs } = { ...DEFAULT_EVENT_TIME_LIMITS, ...limits };
  const at = Date.parse(createdAt);
  if (!Number.isFinite(at)) return undefined; // the schema refuses it first
  if (at - now > maxFutureSkewMs) {
    return {
      code: 'event_from_future',
      message: `created_at is more than ${Math.round(maxFutureSkewMs / 1000)} s ahead of this server's clock; check the sender's clock.`,
    };
  }
  if (now - at > maxAgeMs) {
    return {
      code: 'event_too_old',
      message: `created_at is older than the inbox retention (${Math.round(maxAgeMs / DAY_MS)} days); such an event is not accepted again.`,
    };
  }
  // A shorter retention pruned up to there: a repeat of an event older than that could no longer be recognised.
  if (prunedBeforeMs !== undefined && at < prunedBeforeMs) {
    return {
      code: 'event_too_old',
      message: `created_at is older than events already pruned from the inbox (${new Date(prunedBeforeMs).toISOString()}); such an event is not accepted again.`,
    };
  }
  return undefined;
}
