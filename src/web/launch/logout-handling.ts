import type { PendingLogout } from '../../partner';
import type { LogoutInboxRecord } from '../../store/logout-events';
import type { LaunchContext } from './context';
import { LOGOUT_CLOCK_ALLOWANCE_MS } from './ended-by';

/** A `user.logout` stored in the inbox, as its handling needs it. */
export interface StoredLogout {
  eventId: string;
  installationId: string;
  accountId: string;
  talkdeskUserId: string;
  email?: string;
  /** The event's `created_at`. */
  createdAt: string;
  receivedAt: Date;
}

/**
 * Ends the user's sessions and keeps the logout for the partner, then marks the stored event handled.
 * Every step is idempotent: a redelivery after a failure, or the backstop pass, runs them again safely.
 * Returns the sessions ended and the forward to send (the caller sends it once Talkdesk is answered).
 */
export async function handleStoredLogout(
  lc: LaunchContext,
  l: StoredLogout,
  o: { forwardKept?: boolean; firstAt?: Date } = {},
): Promise<{ ended: number; pending?: PendingLogout }> {
  // First the mark, then the sessions: a sign-in under way that opens its session after they were
  // ended finds the mark and ends its own (ssoCallback). Idempotent: a repeat ends nothing more.
  // Never later than its arrival: a Talkdesk clock ahead of ours would refuse sign-ins begun after it.
  const at = Math.min(Date.parse(l.createdAt), l.receivedAt.getTime());
  await lc.sessions.markLoggedOut(l.installationId, l.talkdeskUserId, new Date(at));
  // Not a session whose sign-in began after the logout (judged as a sign-in under way is): a late
  // delivery, or one again after a 503, must not end a session the user opened since.
  const ended = await lc.sessions.endForUser(l.installationId, l.talkdeskUserId, new Date(at + LOGOUT_CLOCK_ALLOWANCE_MS));
  // Kept for the partner before Talkdesk is answered: a 503 here is delivered again and kept then. Once only: a
  // forward kept and delivered since (its pending copy deleted) must not be kept and sent again.
  const notice = {
    installationId: l.installationId,
    accountId: l.accountId,
    talkdeskUserId: l.talkdeskUserId,
    ...(l.email ? { email: l.email } : {}),
    occurredAt: l.createdAt,
    loggedOutAt: new Date(at).toISOString(), // the time its sessions were judged by, for the partner's own
    eventId: l.eventId,
  };
  const pending = o.forwardKept || !lc.logoutForwarder ? undefined : await lc.logoutForwarder.keep(notice, o.firstAt);
  if (pending) await lc.logoutEvents.noteForwardKept(l.eventId);
  await lc.logoutEvents.markHandled(l.eventId, ended);
  return { ended, ...(pending ? { pending } : {}) };
}

/** Talkdesk delivers again after 5 and 10 minutes; a logout stored this long ago and not handled has no delivery left. */
export const LOGOUT_BACKSTOP_AFTER_MS = 16 * 60_000;

const fromRecord = (r: LogoutInboxRecord): StoredLogout => ({
  eventId: r._id,
  installationId: r.installationId,
  accountId: r.logout.accountId,
  talkdeskUserId: r.logout.talkdeskUserId,
  ...(r.logout.email ? { email: r.logout.email } : {}),
  createdAt: r.logout.occurredAt ?? r.createdAt.toISOString(),
  receivedAt: r.receivedAt,
});

/**
 * The backstop: a `user.logout` stored, whose handling then failed (the store cut off between two steps) and
 * which no redelivery took, is handled here; otherwise the user's sessions lived on and the partner never heard.
 * It reads only `logouts_owed` (written before the event is stored, deleted once it is handled), never the inbox
 * by a filter. Stops at the first failure (the store is out again): the next pass goes on.
 */
export async function handleUnhandledLogouts(lc: LaunchContext, afterMs = LOGOUT_BACKSTOP_AFTER_MS): Promise<number> {
  const backfilled = await lc.logoutEvents.oweUnhandledOnce();
  if (backfilled > 0) lc.logger.warn({ count: backfilled }, 'user.logout: events an older version left unhandled are owed to the backstop');
  const owed = await lc.logoutEvents.owedBefore(new Date(Date.now() - afterMs));
  let handled = 0;
  for (const o of owed) {
    // Read by `_id`: handled meanwhile, never stored (the insert failed after the mark), or the id another event's.
    const r = await lc.logoutEvents.get(o._id);
    // Handled only as a majority holds the mark (a failover rolls back one on the primary alone, with its handling).
    if (!r || (r.handledAt && (await lc.logoutEvents.get(o._id, { durable: true }))?.handledAt)) {
      await lc.logoutEvents.settle(o._id);
      continue;
    }
    // The partner's retries count from the logout's arrival (a day), not from this pass.
    const { ended, pending } = await handleStoredLogout(lc, fromRecord(r), {
      forwardKept: o.forwardKeptAt !== undefined,
      firstAt: r.receivedAt,
    });
    handled += 1;
    lc.logger.warn(
      { installationId: r.installationId, eventId: r._id, talkdeskUserId: r.logout.talkdeskUserId, sessionsEnded: ended },
      'user.logout: handled by the backstop pass (stored, its handling failed, and no redelivery took it)',
    );
    if (pending) lc.logoutForwarder?.sendNow(pending);
  }
  return handled;
}
