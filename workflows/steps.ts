import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  condition,
  isCancellation,
  sleep,
} from '@temporalio/workflow';
import type { InstallationOptions } from './options';
import type { InstallationState } from './state';

/** A step failed in a way retrying cannot fix (400, 403, 404, invalid_client, bad data). */
export class StepFailedError extends Error {
  constructor(
    readonly step: string,
    readonly failureType: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailedError';
  }
}

/** The type of the failure an installation workflow ends with when a step outside a phase fails for good. */
export const INSTALLATION_STEP_FAILED = 'InstallationStepFailed';

/**
 * The workflow's failure for a step that failed for good outside a phase (see
 * docs/installation-workflow.md): typed, non-retryable, with the step in its details.
 */
export function stepFailedForGood(err: StepFailedError): ApplicationFailure {
  return ApplicationFailure.create({
    type: INSTALLATION_STEP_FAILED,
    nonRetryable: true,
    message:
      `${err.step} failed for good (${err.failureType}): ${err.message}. ` +
      'Fix the cause, then let reconciliation resume the installation from its stored record.',
    details: [{ step: err.step, failureType: err.failureType }],
  });
}

export interface FailureFacts {
  message: string;
  type: string;
  nonRetryable: boolean;
  retryAfterMs?: number;
}

function durationToMs(d: unknown): number | undefined {
  if (typeof d === 'number') return d;
  if (typeof d === 'string') {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(d.trim());
    if (!m) return undefined;
    const n = Number(m[1]);
    const unit = m[2] ?? 'ms';
    return unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  }
  return undefined;
}

/** What an activity failure means for the retry loop; messages are already secret-free. */
export function classifyFailure(err: unknown): FailureFacts {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    // The SDK does not decode nextRetryDelay on the workflow side; the Talkdesk
    // failure also carries Retry-After in its details, so read it from there.
    const detail = (cause.details?.[0] ?? {}) as { retryAfterMs?: unknown };
    const fromDetails = typeof detail.retryAfterMs === 'number' ? detail.retryAfterMs : undefined;
    return {
      message: cause.message,
      type: cause.type ?? 'Error',
      nonRetryable: cause.nonRetryable === true,
      retryAfterMs: durationToMs(cause.nextRetryDelay ?? undefined) ?? fromDetails,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { message: `activity timed out (${cause.timeoutType})`, type: 'Timeout', nonRetryable: false };
  }
  return { message: cause instanceof Error ? cause.message : 'unknown failure', type: 'Error', nonRetryable: false };
}

/**
 * Talkdesk's Retry-After, floored at one second (0 would be a 1 ms timer, a retry storm) and
 * capped at ten minutes, the default retry maximum (a run configured with a longer maximum
 * keeps it). Never shorter than Talkdesk asked below the cap, even with short test settings.
 */
export const RETRY_AFTER_FLOOR_MS = 1_000;
export const RETRY_AFTER_CAP_MS = 10 * 60_000;
export function retryAfterWait(retryAfterMs: number, retryMaxMs: number): number {
  return Math.min(Math.max(retryAfterMs, RETRY_AFTER_FLOOR_MS), Math.max(retryMaxMs, RETRY_AFTER_CAP_MS));
}

/**
 * Where a run may continue as new in the middle of a phase: during a backoff (no
 * activity in flight), see `workflow.ts`. `armed` is asked once per backoff (it may
 * record a patch marker), `wanted` is polled while waiting, `cut` never returns.
 */
export interface MidPhaseCut {
  armed(): boolean;
  wanted(): boolean;
  cut(step: string, attempt: number, retryAt: number): Promise<never>;
}

/** The step a resumed phase was backing off in: it goes on at the next attempt, at the same time. */
export interface ResumedStep {
  step: string;
  attempt: number;
  retryAt: string;
}

/**
 * Runs a step, retrying retryable failures with exponential backoff (or after
 * Talkdesk's Retry-After) until it succeeds, fails for good, or the enclosing
 * scope is cancelled (deadline, uninstall, operator). The workflow owns the retry
 * loop so that the `state` query can show the last error and the attempt count,
 * and an operator can cut a backoff short.
 */
export class StepRunner {
  private retryNowRequested = false;
  /** Asked while an attempt was under way: the backoff after it, if it fails, is skipped. */
  private retrySoon = false;
  /** The wait under way: `retryAfter` is Talkdesk's Retry-After, which `requestRetrySoon` leaves alone. */
  private waiting: 'none' | 'backoff' | 'retryAfter' = 'none';
  /** A step's attempt is under way (not its backoff): a retry asked now can only follow it. */
  attempting = false;
  private resumed?: ResumedStep;
  /** Set by the workflow: where the run may continue as new mid-phase. */
  midPhaseCut?: MidPhaseCut;
  constructor(
    private readonly state: InstallationState,
    private readonly options: InstallationOptions,
    /** Called when the visible state changed (a failed attempt), to refresh the UI details. */
    private readonly onChange: () => void = () => undefined,
  ) {}

  requestRetryNow(): void {
    this.retryNowRequested = true;
  }

  /**
   * The running step's next attempt at once: its backoff cut short, or, while an attempt is under
   * way, no backoff after it should it fail (`requestRetryNow` would be forgotten by then).
   */
  requestRetrySoon(): void {
    if (this.waiting === 'none') this.retrySoon = true;
    else this.retryNowRequested ||= this.waiting === 'backoff';
  }

  /** The next run of `step` (in a phase resumed after continue-as-new) goes on from `attempt`. */
  resume(step: ResumedStep | undefined): void {
    this.resumed = step;
  }

  /** Waiting before a step's next attempt (one failed): no attempt is under way. */
  get backingOff(): boolean {
    return this.waiting !== 'none';
  }

  /** The step a phase re-entered after continue-as-new was cut at, until that step runs again. */
  get resumedStep(): string | undefined {
    return this.resumed?.step;
  }

  /** `fn` gets the attempt number (1 first), so a call that may have landed before can check first. */
  async run<T>(description: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    try {
      return await this.attempts(description, fn);
    } finally {
      // A request for this step's retry concerns no later step.
      this.retrySoon = false;
    }
  }

  private async attempts<T>(description: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    let first = 1;
    const resumed = this.resumed;
    if (resumed && resumed.step === description) {
      // The attempt the previous run was waiting for: its count and its time go on.
      this.resumed = undefined;
      first = resumed.attempt + 1;
      this.state.currentStep = description;
      this.state.attempts = resumed.attempt;
      const wait = Date.parse(resumed.retryAt) - Date.now();
      if (wait > 0) await this.backoff(wait, resumed.attempt);
    }
    for (let attempt = first; ; attempt++) {
      this.state.currentStep = description;
      this.state.attempts = attempt;
      try {
        this.attempting = true;
        const value = await fn(attempt).finally(() => {
          this.attempting = false;
        });
        this.state.lastError = undefined;
        this.state.attempts = 0;
        this.state.currentStep = undefined;
        this.onChange();
        return value;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const facts = classifyFailure(err);
        this.state.lastError = `${description}: ${facts.message}`;
        if (facts.nonRetryable) throw new StepFailedError(description, facts.type, facts.message);
        const backoff = Math.min(this.options.retryInitialMs * 2 ** (attempt - 1), this.options.retryMaxMs);
        this.onChange();
        await this.backoff(
          facts.retryAfterMs === undefined ? backoff : retryAfterWait(facts.retryAfterMs, this.options.retryMaxMs),
          attempt,
          facts.retryAfterMs !== undefined,
        );
      }
    }
  }

  /** Waits before the attempt after `attempt`; the only place a run may continue as new mid-phase. */
  private async backoff(ms: number, attempt: number, retryAfter = false): Promise<void> {
    this.retryNowRequested = false;
    const soon = this.retrySoon;
    this.retrySoon = false;
    // Hurried by reconciliation (requestRetrySoon), unless Talkdesk asked to wait (Retry-After): it rate-limits us.
    if (soon && !retryAfter) return;
    const step = this.state.currentStep ?? 'step';
    const retryAt = Date.now() + ms;
    const cut = this.midPhaseCut?.armed() ? this.midPhaseCut : undefined;
    if (cut?.wanted()) await cut.cut(step, attempt, retryAt);
    this.waiting = retryAfter ? 'retryAfter' : 'backoff';
    try {
      await condition(() => this.retryNowRequested || cut?.wanted() === true, ms, { summary: `backoff before retrying: ${step}` });
    } finally {
      this.waiting = 'none';
    }
    if (!this.retryNowRequested && cut?.wanted()) await cut.cut(step, attempt, retryAt);
    this.retryNowRequested = false;
  }
}

export type PhaseOutcome<T> =
  | { kind: 'done'; value: T }
  | { kind: 'failed'; error: StepFailedError }
  | { kind: 'expired' }
  /** `atStart`: stopped by its start gate, before any of its body ran. */
  | { kind: 'interrupted'; reason: string; atStart?: true };

/** Runs one phase in its own cancellation scope, raced against its deadline; `interrupt(reason)` stops it cleanly. */
export class PhaseRunner {
  private active?: { scope: CancellationScope; reason?: string; resumable: boolean };
  /** The next `run` is the body of the event being applied (its first phase run): it may be resumed. */
  private bodyNext = false;
  /** A phase resumed after continue-as-new is about to re-enter: an interrupt now stops it as it begins. */
  private resuming?: { reason?: string };
  /** The start gate: an interrupt between an event's start and its body's scope (the phase record, its retries) is kept here, and stops the body as it begins, when `gateOpen()` allows. */
  private gate?: { reason?: string };

  /** `gateOpen`: whether the start gate may stop a body (a patch check, made only when it would). */
  constructor(private readonly gateOpen: () => boolean = () => false) {}

  /** An event begins to be applied: its first `run` is its body. */
  beginEvent(): void {
    this.bodyNext = true;
    this.gate = {};
  }

  /** The event is applied (or stopped): nothing of it is left to re-enter. */
  endEvent(): void {
    this.bodyNext = false;
    this.resuming = undefined;
    this.gate = undefined;
  }

  /** The next `run` re-enters a phase carried over by continue-as-new. */
  expectResume(): void {
    this.resuming = {};
  }

  interrupt(reason: string): boolean {
    if (!this.active) {
      const waiting = this.resuming ?? this.gate;
      if (!waiting) return false;
      waiting.reason ??= reason;
      return true;
    }
    this.active.reason ??= reason;
    this.active.scope.cancel();
    return true;
  }

  /** The running phase is being stopped (its deadline, an interrupt): its outcome is decided, not yet returned. */
  get stopping(): boolean {
    return this.active?.reason !== undefined;
  }

  get running(): boolean {
    return this.active !== undefined || this.resuming !== undefined;
  }

  /** The running phase is an event's body, which the next run can re-enter. */
  get resumable(): boolean {
    return this.active?.resumable === true && this.active.reason === undefined;
  }

  /** `why`: what the deadline is, for the timer's summary in the UI (a summary is not compared on replay). */
  async run<T>(deadlineMs: number, fn: () => Promise<T>, why = 'seven days from the event'): Promise<PhaseOutcome<T>> {
    const resumable = this.bodyNext;
    this.bodyNext = false;
    const early = this.resuming?.reason;
    this.resuming = undefined;
    const gated = this.gate?.reason;
    this.gate = undefined;
    // Past its deadline before it began (an event older than its seven days): nothing
    // may run. Otherwise the phase's steps would race a 1 ms timer, and could win.
    if (deadlineMs <= Date.now()) return { kind: 'expired' };
    // Interrupted while the carried-over phase was re-entering (an uninstall in the new run's first moments).
    if (early) return { kind: 'interrupted', reason: early };
    // Interrupted while it was starting (its phase record retrying): stopped before any of its body runs.
    if (resumable && gated !== undefined && this.gateOpen()) return { kind: 'interrupted', reason: gated, atStart: true };
    const scope = new CancellationScope();
    const current: { scope: CancellationScope; reason?: string; resumable: boolean } = { scope, resumable };
    this.active = current;
    const timerScope = new CancellationScope();
    timerScope
      .run(() =>
        sleep(Math.max(1, deadlineMs - Date.now()), {
          summary: `deadline ${new Date(deadlineMs).toISOString()} (${why})`,
        }),
      )
      .then(
        () => {
          current.reason ??= 'deadline';
          scope.cancel();
        },
        () => undefined,
      );
    try {
      return { kind: 'done', value: await scope.run(fn) };
    } catch (err) {
      if (err instanceof StepFailedError) return { kind: 'failed', error: err };
      if (isCancellation(err) && current.reason) {
        return current.reason === 'deadline' ? { kind: 'expired' } : { kind: 'interrupted', reason: current.reason };
      }
      throw err;
    } finally {
      timerScope.cancel();
      this.active = undefined;
    }
  }
}
