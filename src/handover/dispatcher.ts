import type { Logger } from '../logging/logger';
import { temporalCallFailure } from '../temporal/connect-errors';
import type { InboxStore } from './inbox';
import type { Dispatch } from './start';
import { scrubUrlCredentials } from '../logging/redact';
import { withTimeout } from '../store/watchdog';

/** The latest date there is: listing "due by" it lists every queued event. */
const LATEST = new Date(8.64e15);

/** The longest a failed hand-over waits before the next attempt (the README quotes it). */
export const MAX_BACKOFF_MS = 5 * 60_000;

/** Events handed over per pass unless DispatcherOptions.batchSize says otherwise. */
const DEFAULT_BATCH_SIZE = 100;

export interface DispatcherOptions {
  intervalMs: number;
  batchSize?: number;
  maxBackoffMs?: number;
  /** A pass not done after this is abandoned and the next one runs; DEFAULT_PASS_LIMIT_MS when not given. */
  passLimitMs?: number;
  /** Schedules the next pass (setTimeout; tests see the delays asked for). */
  schedule?: (run: () => void, delayMs: number) => NodeJS.Timeout;
}

/**
 * Far above a full batch's work (100 hand-overs of 3 s at most, and their marks): a pass still running
 * then waits on a call that never returns (the MongoDB driver can wait forever on a write to a socket
 * already destroyed: src/store/watchdog.ts), and would stop the dispatcher for good.
 */
const DEFAULT_PASS_LIMIT_MS = 10 * 60_000;

/** At shutdown, how long a pass under way may finish in (what it leaves stays queued). */
export const STOP_WAIT_MS = 30_000;

/**
 * Hands over events that were stored but not dispatched (Temporal was down when
 * they arrived), oldest first, with exponential backoff per event.
 */
export class InboxDispatcher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private stopped = false;
  private requeued = false;
  /** A hand-over of this dispatcher failed and backed events off. */
  private backedOff = false;
  /** Temporal answered a hand-over since: retry the backed-off events at once. */
  private wake = false;
  /** Handed over by the callback but not marked (the store failed): marked by the next passes. */
  private readonly unmarked = new Map<string, MarkOptions>();
  /**
   * Events refused by a woken pass, while Temporal answered others: their own fault (a limit of their workflow), not
   * an outage's. Left to their backoff, which woken passes would otherwise ignore: retried first by every pass a
   * steady stream of hand-overs wakes, one such event would stop each of them before the events queued behind it.
   */
  private readonly refusedAlone = new Map<string, number>(); // event id → its backoff's end (ms)

  constructor(
    private readonly inbox: InboxStore,
    private readonly dispatch: Dispatch,
    private readonly logger: Logger,
    private readonly options: DispatcherOptions,
  ) {}

  start(): void {
    this.stopped = false;
    const schedule = this.options.schedule ?? setTimeout;
    const tick = async () => {
      const handed = await this.limitedPass().catch((err: unknown) => {
        this.logger.warn({ err }, 'dispatcher pass failed; will try again');
        return 0;
      });
      // A full batch handed over: more are likely due (a wave past the callback's budget), so the next pass runs at once.
      const full = handed >= (this.options.batchSize ?? DEFAULT_BATCH_SIZE);
      if (!this.stopped) this.timer = schedule(() => void tick(), full ? 0 : this.options.intervalMs);
    };
    this.timer = schedule(() => void tick(), this.options.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const running = this.running?.catch(() => undefined);
    if (running) await settledWithin(running, Math.min(STOP_WAIT_MS, this.options.passLimitMs ?? DEFAULT_PASS_LIMIT_MS));
  }

  /**
   * A pass, abandoned when it outlasts the limit: the next one runs (overlapping the abandoned one,
   * should it ever resume: a repeated hand-over is ignored by the workflow, a repeated mark changes nothing).
   */
  private async limitedPass(): Promise<number> {
    const limitMs = this.options.passLimitMs ?? DEFAULT_PASS_LIMIT_MS;
    const pass = this.runOnce();
    if (await settledWithin(pass, limitMs)) return pass;
    if (this.running === pass) this.running = undefined;
    this.logger.error(
      { limitSeconds: limitMs / 1000 },
      'dispatcher pass abandoned: a store or Temporal call has not returned; the next pass runs (if this repeats, restart the web process)',
    );
    return 0;
  }

  /**
   * A hand-over succeeded (here or in the callback): Temporal answers again. Events an
   * outage backed off are retried at the next pass instead of at their backoff's end,
   * which after a long outage is up to `maxBackoffMs` away.
   */
  temporalAnswered(): void {
    if (this.backedOff) this.wake = true;
  }

  /**
   * The callback handed `eventId` over but could not mark it (nor queue it): the store was down.
   * Each pass tries the mark again until it lands, so the inbox records the hand-over without a
   * redelivery; a process that stops first leaves it to the start-up pass (requeueUndispatched),
   * whose repeated hand-over the workflow ignores.
   */
  markLater(eventId: string, mark: MarkOptions): void {
    if (this.unmarked.size >= MAX_UNMARKED && !this.unmarked.has(eventId)) {
      this.logger.warn({ eventId }, 'too many hand-overs left unmarked; this one is left to the start-up pass');
      return;
    }
    this.unmarked.set(eventId, mark);
  }

  /** Hand-overs still waiting for their mark (`markLater`). */
  get unmarkedCount(): number {
    return this.unmarked.size;
  }

  /** One pass; returns how many events were handed over. Passes never overlap. */
  runOnce(): Promise<number> {
    if (this.running) return this.running;
    // Cleared only if still this pass: an abandoned pass that settles late must not clear the next one's.
    const pass: Promise<number> = this.pass().finally(() => {
      if (this.running === pass) this.running = undefined;
    });
    this.running = pass;
    return pass;
  }

  private async markUnmarked(): Promise<void> {
    for (const [eventId, mark] of [...this.unmarked]) {
      try {
        await this.inbox.markDispatched(eventId, mark);
      } catch (err) {
        // The store is still down: the next pass tries again.
        this.logger.debug({ eventId, error: err instanceof Error ? err.name : 'unknown' }, 'hand-over still not marked');
        return;
      }
      this.unmarked.delete(eventId);
      this.logger.info({ eventId }, 'hand-over marked after the store came back');
    }
  }

  private async pass(): Promise<number> {
    await this.markUnmarked();
    // Kept only while their backoff runs (handed over elsewhere meanwhile or not): the map stays small.
    for (const [id, until] of this.refusedAlone) if (until <= Date.now()) this.refusedAlone.delete(id);
    if (!this.requeued) {
      // Once per process: events stored without a queue entry (older versions, a failed queue write).
      const queued = await this.inbox.requeueUndispatched();
      this.requeued = true;
      if (queued > 0) this.logger.info({ queued }, 'stored events without a queue entry queued for hand-over');
    }
    // Woken: every queued event is due now, backed off or not, until a pass finds fewer
    // than a batch (the queue entries are not rewritten for it: their backoff has one
    // writer, a failed hand-over).
    const woken = this.wake;
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH_SIZE;
    const due = await this.inbox.listUndispatched(batchSize, woken ? LATEST : new Date());
    if (woken && due.length > 0) this.logger.info({ retried: due.length }, 'Temporal answers again: backed-off events retried now');
    if (woken && due.length < batchSize) {
      this.wake = false;
      this.backedOff = false;
    }
    let handed = 0;
    let failedInARow = 0;
    for (const record of due) {
      // Handed over already, its mark waiting for the store (markLater): not handed over again while it waits, else
      // a store refusing writes would have every pass re-signal the same events (and a full batch pass again at once).
      if (this.unmarked.has(record._id)) continue;
      if (woken && (this.refusedAlone.get(record._id) ?? 0) > Date.now()) continue;
      try {
        await this.dispatch(record.event);
        this.refusedAlone.delete(record._id);
        failedInARow = 0;
      } catch (err) {
        const attempts = record.dispatchAttempts + 1;
        const backoff = Math.min(this.options.intervalMs * 2 ** attempts, this.options.maxBackoffMs ?? MAX_BACKOFF_MS);
        await this.inbox.recordDispatchFailure(record._id, attempts, new Date(Date.now() + backoff), errorName(err));
        this.backedOff = true;
        this.logger.warn(
          { installationId: record.installationId, eventId: record._id, attempts, ...temporalCallFailure(err) },
          'dispatch failed; backing off',
        );
        // Woken, Temporal answered a moment ago: this event's own refusal, most likely; the next one is tried. Else,
        // or at a second failure in a row, Temporal is most likely down for every event: stop this pass early.
        failedInARow += 1;
        if (woken && failedInARow === 1) {
          if (this.refusedAlone.size < MAX_UNMARKED) this.refusedAlone.set(record._id, Date.now() + backoff);
          continue;
        }
        this.wake = false;
        break;
      }
      handed += 1;
      this.logger.info(
        { installationId: record.installationId, eventId: record._id, attempts: record.dispatchAttempts + 1 },
        'stored event dispatched',
      );
      // Handed over: a mark the store fails is tried again by the next passes, as the callback's is (no backoff, no
      // attempt counted: Temporal answered, and the events an outage backed off stay woken).
      await this.inbox.markDispatched(record._id, { record }).catch(() => this.markLater(record._id, { record }));
    }
    return handed;
  }
}

/** True once `p` has settled (either way), false if it has not within `ms`. */
function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = p.then(
    () => undefined,
    () => undefined,
  );
  return withTimeout(settled, ms).then(
    () => true,
    () => false,
  );
}

/** The most hand-overs kept for a later mark: beyond it the start-up pass covers them. */
const MAX_UNMARKED = 10_000;

type MarkOptions = Parameters<InboxStore['markDispatched']>[1];

/** Kept in the queue entry and in reconciliation's result (a Temporal payload): a connection string's credentials scrubbed. */
function errorName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${scrubUrlCredentials(err.message).slice(0, 200)}` : 'unknown error';
}

/** What reconciliation's backstop did: events handed over, and those whose hand-over failed (left queued). */
export interface StoredHandOver {
  handed: number;
  failed: { eventId: string; installationId: string; message: string }[];
}

/** Consecutive failed hand-overs after which Temporal is taken to be down and the pass stops. */
const GIVE_UP_AFTER_FAILURES = 5;

/**
 * Reconciliation's backstop: hands over every stored event not handed over yet, backed
 * off or not, including those whose queue entry was never written (read from the whole
 * inbox unless `requeue: false`). One event whose hand-over fails is reported and the others still go; only a
 * run of failures in a row (Temporal down) stops the pass.
 */
export async function handOverStored(
  inbox: InboxStore,
  dispatch: Dispatch,
  limit: number,
  options: { requeue?: boolean } = {},
): Promise<StoredHandOver> {
  // `requeue: false`: the caller runs the whole-inbox scan itself, rarely (reconciliation).
  if (options.requeue ?? true) await inbox.requeueUndispatched();
  const due = await inbox.listUndispatched(limit, LATEST);
  const result: StoredHandOver = { handed: 0, failed: [] };
  let inARow = 0;
  for (const record of due) {
    try {
      await dispatch(record.event);
    } catch (err) {
      // Left queued: the dispatcher's backoff and the next pass try it again.
      result.failed.push({ eventId: record._id, installationId: record.installationId, message: errorName(err) });
      if (++inARow >= GIVE_UP_AFTER_FAILURES) break;
      continue;
    }
    inARow = 0;
    await inbox.markDispatched(record._id, { record });
    result.handed += 1;
  }
  return result;
}
