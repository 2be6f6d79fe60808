import { PartnerUnreachableError } from '../src/partner/errors';
import type { ActivityDeps } from './deps';
import { toFailure } from './failures';
import { UNREACHABLE_PAUSE_MS } from './reconcile-pacing';
import { whileHeartbeating } from './partner-calls';

/**
 * Reconciliation's resends of the partner calls kept for later (an undo the partner did not answer), heartbeating, and
 * paused in this worker for UNREACHABLE_PAUSE_MS once the partner does not answer at all: each installation's first
 * resend would otherwise wait out PARTNER_HOOKS_TIMEOUT_MS, one after another, past the page's own timeout (its retries
 * starting over), with the Talkdesk checks queued behind them. The calls stay outstanding for a later visit.
 */
export function partnerResender(
  { partner, logger }: Pick<ActivityDeps, 'partner' | 'logger'>,
  pauseMs = UNREACHABLE_PAUSE_MS,
): (installationId: string) => Promise<void> {
  let pausedUntil = 0;
  return async (installationId) => {
    const retry = partner?.retryOutstanding;
    if (!retry || Date.now() < pausedUntil) return;
    try {
      await whileHeartbeating(`partner calls of ${installationId}`, () => retry.call(partner, installationId));
    } catch (err) {
      if (!(err instanceof PartnerUnreachableError)) throw err;
      pausedUntil = Date.now() + pauseMs;
      const fields = { installationId, error: toFailure(err).message, pausedForSeconds: pauseMs / 1000 };
      logger.warn(fields, 'partner not answering: reconciliation resends its outstanding calls on a later visit');
    }
  };
}
