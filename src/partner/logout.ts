import type { Logger } from '../logging/logger';
import { withTimeout } from '../store/watchdog';
import { PartnerRefusedError, PartnerUnavailableError, safeUnavailableMessage, sanitiseReason } from './errors';
import { callKey } from './keys';
import type { PendingLogout, PendingLogoutStore } from './logout-forwards';
import type { PartnerProvisioner, UserLogoutRequest } from './provisioner';

/**
 * Forwards a Talkdesk `user.logout` to the partner (the HTTP provisioner sends the
 * `user.logout` hook; the built-in one has nothing to do). Keyed by the event, so a
 * redelivered logout is the same call. A refusal is recorded by the provisioner;
 * a partner that is down makes this throw (retryable), and the caller decides
 * whether to try again. Returns false when the provisioner takes no logouts.
 */
export async function forwardUserLogout(
  partner: PartnerProvisioner,
  req: UserLogoutRequest,
  signal = new AbortController().signal,
): Promise<boolean> {
  if (!partner.userLogout) return false;
  await partner.userLogout(req, { key: callKey(req.installationId, req.eventId, 'user.logout'), occurredAt: req.occurredAt, signal });
  return true;
}

/**
 * When a forward that failed is sent again: 30 s, doubling up to 15 minutes, given up a day
 * after the event arrived. `claimMs`: how long a send of the retry pass holds the logout
 * against other web processes (longer than a hook call, PARTNER_HOOKS_TIMEOUT_MS, 10 s by
 * default); a process stopped mid-send leaves it due again after that. `drainMs`: how long a
 * shutdown waits for the first attempts in flight (a hook call and its store write: a stuck
 * store must not hold the shutdown); one cut short stays kept and is sent again when due.
 */
export const LOGOUT_FORWARD_TIMING = {
  firstRetryMs: 30_000,
  maxDelayMs: 15 * 60_000,
  giveUpAfterMs: 24 * 3_600_000,
  claimMs: 120_000,
  drainMs: 20_000,
};

export type LogoutForwardOutcome = 'delivered' | 'retry' | 'given_up';

/**
 * Delivers each `user.logout` to the partner until it answers: in handing a user to the
 * partner's own app, its hook is how that app learns the user signed out, and a partner
 * that is down for a moment must not leave them signed in there. The logout is kept in
 * `partner_logouts` before Talkdesk is answered, sent at once after, and sent again with
 * backoff (honouring the partner's `Retry-After`) by `retryDue`, which the web server runs
 * periodically, across restarts. Each send of the pass is claimed in the store, so one web
 * process sends it; should two ever send the same logout, the hook's `idempotency-key` is
 * the same, so the partner sees one.
 */
export class LogoutForwarder {
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  private readonly timing: typeof LOGOUT_FORWARD_TIMING;

  constructor(
    private readonly o: {
      store: PendingLogoutStore;
      forward: (req: UserLogoutRequest) => Promise<void>;
      logger: Logger;
      onOutcome?: (outcome: LogoutForwardOutcome) => void;
      timing?: Partial<typeof LOGOUT_FORWARD_TIMING>;
      now?: () => number;
    },
  ) {
    this.timing = { ...LOGOUT_FORWARD_TIMING, ...o.timing };
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** Keeps the logout until the partner has it: before Talkdesk is answered. */
  keep(req: UserLogoutRequest, firstAt?: Date): Promise<PendingLogout> {
    const now = this.now();
    // Due for the retry pass only once the first attempt, made at once by `sendNow`, had its chance. `firstAt`: when
    // the logout arrived, if earlier (a backstop pass): the day of retries counts from then.
    return this.o.store.add(req, firstAt ?? new Date(now), new Date(now + this.timing.firstRetryMs));
  }

  /** The first attempt, in the background (after Talkdesk's answer); `drain` waits for it. */
  sendNow(pending: PendingLogout): void {
    const p = this.attempt(pending).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /**
   * Sends those due again (the web server's periodic pass); returns how many it sent. Each is
   * claimed first (`claimMs`), so with several web processes one sends it.
   */
  async retryDue(): Promise<number> {
    await this.o.store.clearStaleClaims(new Date(this.now()));
    const due = await this.o.store.due(new Date(this.now()));
    let tried = 0;
    // Stopped (the web process shutting down): the rest stay due for the next process's pass.
    for (const pending of due) {
      if (this.stopped) break;
      const claim = await this.o.store.claim(pending, new Date(this.now() + this.timing.claimMs), new Date(this.now()));
      if (!claim) continue;
      try {
        // Read again once claimed: another process may have sent it since this pass read it (moved or deleted).
        const current = await this.o.store.get(pending._id);
        if (!current || current.dueAt.getTime() !== pending.dueAt.getTime()) continue;
        await this.attempt(current);
        tried += 1;
      } finally {
        // Left behind (MongoDB down now), it is cleared once stale.
        await this.o.store.release(claim).catch(() => undefined);
      }
    }
    return tried;
  }

  /** Ends the retry pass after the send in progress, so a shutdown waits for one hook call at most. */
  stop(): void {
    this.stopped = true;
  }

  ensureIndexes(): Promise<void> {
    return this.o.store.ensureIndexes();
  }

  /** Waits for the first attempts in flight, up to `drainMs`; true when they all ended. */
  async drain(): Promise<boolean> {
    return withTimeout(Promise.allSettled([...this.inFlight]), this.timing.drainMs).then(
      () => true,
      () => {
        this.o.logger.warn({ inFlight: this.inFlight.size }, 'user.logout: stopped before its forward was recorded; sent again when due');
        return false;
      },
    );
  }

  private async attempt(pending: PendingLogout): Promise<void> {
    const { installationId, eventId } = pending.request;
    const log = this.o.logger.child({ installationId, eventId, type: 'user.logout' });
    try {
      await this.o.forward(pending.request);
    } catch (err) {
      // Final (contract 4, docs/partner.md): the partner answered; sent again, it answers the same for a day.
      if (err instanceof PartnerRefusedError) {
        log.warn({ reason: sanitiseReason(err.reason) }, 'user.logout: the partner refused it for good; not sent again');
      } else {
        await this.failed(pending, err, log);
        return;
      }
    }
    try {
      await this.o.store.done(eventId);
      if (pending.attempts > 0) log.info({ attempts: pending.attempts + 1 }, 'user.logout: partner hook delivered after retrying');
      this.o.onOutcome?.('delivered');
    } catch (err) {
      // Sent again when due: the same idempotency key, so the partner sees one logout.
      log.warn(
        { error: err instanceof Error ? err.name : 'unknown' },
        'user.logout: partner hook delivered; its record not cleared (MongoDB)',
      );
    }
  }

  private async failed(pending: PendingLogout, err: unknown, log: Logger): Promise<void> {
    const now = this.now();
    const attempts = pending.attempts + 1;
    // Messages of the partner's errors are the service's own (errors.ts); anything else by its class only.
    const error =
      err instanceof PartnerUnavailableError ? safeUnavailableMessage(err.message) : err instanceof Error ? err.name : 'unknown';
    try {
      if (now - pending.firstAt.getTime() >= this.timing.giveUpAfterMs) {
        await this.o.store.done(pending.request.eventId);
        log.error({ attempts, error }, "user.logout: partner hook given up after a day; the partner's app session expiry must end it");
        this.o.onOutcome?.('given_up');
        return;
      }
      const backoff = Math.min(this.timing.maxDelayMs, this.timing.firstRetryMs * 2 ** (attempts - 1));
      const retryAfter = err instanceof PartnerUnavailableError ? (err.retryAfterMs ?? 0) : 0;
      const dueAt = new Date(now + Math.max(backoff, retryAfter));
      await this.o.store.retryAt(pending.request.eventId, dueAt, attempts, error);
      log.warn({ attempts, error, retryAt: dueAt.toISOString() }, 'user.logout: partner hook failed; sent again later');
      this.o.onOutcome?.('retry');
    } catch (storeErr) {
      // The record stays as it was: the pass sends it again when it was due.
      log.warn(
        { error, storeError: storeErr instanceof Error ? storeErr.name : 'unknown' },
        'user.logout: partner hook failed; retry not recorded (MongoDB)',
      );
    }
  }
}
