import { Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { TalkdeskHttpError, TalkdeskUnavailableError } from '../src/talkdesk/errors';
import { temporalCallFailure } from '../src/temporal/connect-errors';
import { toFailure } from './failures';
import { refusedForGood } from './talkdesk-calls';

/** What a 429 without Retry-After pauses the pass's reads for; one with it, what it asks (up to MAX_RETRY_AFTER_MS, an hour). */
export const RATE_LIMITED_PAUSE_MS = 5_000;
/** After a call Talkdesk did not answer: the worker's reads of that API host wait this long (one read per pause probes it). */
export const UNREACHABLE_PAUSE_MS = 30_000;

/** Waits until `at` (epoch ms), heartbeating every 10 s at most, so the page stays alive and cancellable. */
export async function waitHeartbeating(at: number, label: string): Promise<void> {
  for (let wait = at - Date.now(); wait > 0; wait = at - Date.now()) {
    heartbeat(label);
    await Context.current().sleep(Math.min(wait, 10_000));
  }
}

/**
 * At most `perMinute` Talkdesk reads started in any minute on this worker. The plan's minute slots spread a
 * pass's reads only while it keeps time: pages that ran late (a slow store or partner) found every later slot
 * open and sent their reads back to back, several pages at once, past RECONCILE_TALKDESK_CALLS_PER_MINUTE.
 */
export class ReadWindow {
  private starts: number[] = [];

  constructor(private readonly windowMs = 60_000) {}

  /** Waits, heartbeating, until a read may start; counts it from the time returned. */
  async take(perMinute: number, label: string): Promise<number> {
    for (;;) {
      const now = Date.now();
      while (this.starts.length > 0 && this.starts[0]! <= now - this.windowMs) this.starts.shift();
      if (this.starts.length < perMinute) {
        this.starts.push(now);
        return now;
      }
      await waitHeartbeating(this.starts[0]! + this.windowMs, label);
    }
  }

  /** A turn taken at `at` (as `take` returned it) and not used: the next read may have it. */
  giveBack(at: number): void {
    const i = this.starts.indexOf(at);
    if (i >= 0) this.starts.splice(i, 1);
  }

  /** Turns counted in the window now (for tests and reports). */
  get taken(): number {
    return this.starts.length;
  }
}

/**
 * Talkdesk's 429 (and a 503 with Retry-After) pauses the pass's Talkdesk reads of that API host on this worker for
 * what Talkdesk asked (talkdesk-api.md: honour Retry-After; parseRetryAfter keeps at most an hour). Per host, as the
 * pause of a host not answering: Talkdesk publishes no rate-limit policy, and an hour's maintenance of one region
 * must not stop drift checks and re-approvals in the others. Reads carried on at the budget's pace
 * while Talkdesk refused them, competing with the installations' own approvals for its limits. A read due
 * while paused is left to the next pass (an error, not recorded as checked) rather than waited for, so that
 * sustained 429s never stretch a page past its timeout.
 */
export class TalkdeskPause {
  /** Per Talkdesk API host (`hostOf`; '' for a call that named none): until when its reads wait for Talkdesk's limit. */
  private readonly limited = new Map<string, number>();
  /** Per Talkdesk API host (the installation's `rootUrl`): one region not answering does not hold the others' reads. */
  private readonly unreachable = new Map<string, number>();

  /**
   * Notes a failed call of an installation whose API is at `rootUrl`: a rate limit, or a call Talkdesk did not answer
   * (a timeout, a connection failure), moves the pause of that host's reads on. Sent one after
   * another, a page's reads to a host that does not answer took a client timeout each, past the page's own timeout,
   * and each retry of the page sent them all again.
   */
  note(err: unknown, rootUrl?: string): void {
    if (err instanceof TalkdeskUnavailableError) {
      if (rootUrl !== undefined) this.unreachable.set(hostOf(rootUrl), Date.now() + UNREACHABLE_PAUSE_MS);
      return;
    }
    if (!(err instanceof TalkdeskHttpError)) return;
    if (err.kind !== 'rate_limited' && !(err.kind === 'server_error' && err.retryAfterMs !== undefined)) return;
    // Nothing waits for it (reads due meanwhile are left to the next pass): the whole of what Talkdesk asked is honoured.
    const pause = err.retryAfterMs ?? RATE_LIMITED_PAUSE_MS;
    const host = rootUrl === undefined ? '' : hostOf(rootUrl);
    this.limited.set(host, Math.max(this.limited.get(host) ?? 0, Date.now() + pause));
  }

  /**
   * Throws, naming when the pause ends, if a call now to `rootUrl` would fall inside it: a read, or the approval
   * sent again for an install whose answer was lost (its read done, the approval is what waits).
   */
  check(call: 'read' | 'approval' = 'read', rootUrl?: string): void {
    const [notDone, next] = call === 'read' ? ['not read at Talkdesk: it', 'read'] : ['approval not sent again: Talkdesk', 'sent'];
    const host = rootUrl === undefined ? undefined : hostOf(rootUrl);
    const limited = Math.max(this.limited.get('') ?? 0, host === undefined ? 0 : (this.limited.get(host) ?? 0)) - Date.now();
    if (limited > 0) {
      throw ApplicationFailure.create({
        type: 'TalkdeskRateLimited',
        message: `${notDone} asked to slow down (429) for ${Math.ceil(limited / 1000)} s more; ${next} next pass`,
      });
    }
    const unreachable = (rootUrl === undefined ? 0 : (this.unreachable.get(hostOf(rootUrl)) ?? 0)) - Date.now();
    if (unreachable > 0) {
      throw ApplicationFailure.create({
        type: 'TalkdeskUnavailable',
        message: `${notDone} did not answer a call to this host (timeout or connection failure); paused for ${Math.ceil(unreachable / 1000)} s more; ${next} next pass`,
      });
    }
  }
}

/** The host of an API root URL, the key of its pause (the URL itself when it does not parse). */
function hostOf(rootUrl: string): string {
  try {
    return new URL(rootUrl).host;
  } catch {
    return rootUrl;
  }
}

/** Temporal's answers a later pass may get past: out of reach, timed out, rate-limited. */
const TEMPORAL_FOR_NOW = ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED'];

/**
 * Whether a repair that failed after Talkdesk was read may go through next pass: a Talkdesk call a
 * retry may get past (5xx, 429, timeout, the pass's pause), or Temporal out of reach. A refusal (a
 * 4xx; Temporal refusing the signal, INVALID_ARGUMENT or the like) is not: kept due, the installation
 * would come first every pass and fail the same way.
 */
export function repairFailedForNow(err: unknown): boolean {
  const grpcStatus = temporalCallFailure(err).grpcStatus;
  if (grpcStatus !== undefined) return TEMPORAL_FOR_NOW.includes(grpcStatus);
  return !refusedForGood(err) && !toFailure(err).nonRetryable;
}

/** What one visit of an installation saw at Talkdesk; each visit its own (a page retried beside itself runs two). */
export interface TalkdeskVisit {
  read: boolean; // Talkdesk's view read (the planned pass records when)
  refused: boolean; // the read refused for good (404, 401, 403, invalid_client): checked too
  repairDue: boolean; // read, then a repair failed for now: not checked
  nothingToRead: boolean; // an ended installation without credentials: no read possible, none planned again while ended
  unanswered: boolean; // the read not sent (its host paused) or not answered (a timeout, a 5xx, a 429): tried, still due
  budget?: () => Promise<BudgetTurn>; // waits for the read's turn in the per-minute budget, as it is sent
}
/** A read's turn of the budget; given back when the read is not sent after all (its host paused while it waited). */
export interface BudgetTurn {
  giveBack(): void;
}
/** A visit's record; `budget`: what its read waits for before it is sent. */
export const newVisit = (budget?: () => Promise<BudgetTurn>): TalkdeskVisit => ({
  read: false,
  refused: false,
  repairDue: false,
  nothingToRead: false,
  unanswered: false,
  ...(budget ? { budget } : {}),
});
