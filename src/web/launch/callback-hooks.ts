import type { Context } from 'koa';
import { MongoError } from 'mongodb';
import type { TalkdeskEvent } from '../../events/schemas';
import { fieldPath } from '../../events/fields';
import { userLogoutSchema } from '../../events/user-logout';
import type { EventTimeProblem } from '../event-time';
import { findUnsafeJson } from '../json-limits';
import { LOGOUT_CLOCK_ALLOWANCE_MS, removalStands } from './ended-by';
import type { LaunchContext } from './context';
import { handleStoredLogout } from './logout-handling';
import { storeUnavailableMessage } from '../store-unavailable';

/** What the callback asks of the launch area (src/web/callback.ts). */
export interface CallbackLaunchHooks {
  /** Once an event is stored, before its hand-over (not for a repeat handed over already): ends the sessions an uninstall or a user removal ends. */
  beforeHandOver(event: TalkdeskEvent, firstReceivedAt?: Date): Promise<void>;
  /**
   * The whole answer to an authenticated `user.logout` body. `checkTime` bounds its `created_at` as
   * every event's is (a replay older than the retention, or a date far ahead, is refused).
   */
  userLogout(
    ctx: Context,
    json: unknown,
    outcome: (o: string) => void,
    checkTime: (createdAt: string) => EventTimeProblem | undefined,
  ): Promise<void>;
}

const reply = (ctx: Context, status: number, body: Record<string, unknown>) => {
  ctx.status = status;
  ctx.body = body;
};

/**
 * A repeated removal's sessions begun after its first arrival: a user added back since (their mapping's facts newer
 * than that arrival, from an event no older than the removal) keeps theirs; any other's is ended, since the first
 * delivery may have failed before it marked the removal (its 503), which let that sign-in through. Read by `_id`, one
 * mapping per user who signed in since (few).
 */
async function endSessionsBegunSince(
  lc: LaunchContext,
  accountId: string,
  installationId: string,
  removing: readonly string[],
  since: Date,
  createdAt: Date,
): Promise<number> {
  const gone: string[] = [];
  for (const userId of await lc.sessions.usersSignedInSince(installationId, removing, since)) {
    const m = await lc.store.accounts.users.findOne({ _id: `${accountId}:${userId}` });
    // As a sign-in judges a removal (ended-by.ts): kept only for an active mapping whose facts the removal does not outdate.
    if (!(m?.active === true && !removalStands(m, since, createdAt))) gone.push(userId);
  }
  return lc.sessions.endForUsers(installationId, gone);
}

export function createCallbackHooks(lc: LaunchContext): CallbackLaunchHooks {
  return {
    async beforeHandOver(event, firstReceivedAt) {
      const installationId = event.data.installation_id;
      // The sign-in links of an install or rotation are saved by the workflow's credentials
      // import (activities/credentials.ts), off the acknowledgement's path.
      // Marked first (sign-in.ts reads the marks after it opens a session): a sign-in is refused from now, not
      // from when the workflow applies the event. A removal's time is compared with when the facts of the mapping
      // reached us (its `factsAt`), so it is its arrival, on our clock, and its created_at with theirs (delivered out
      // of order, an older add arrives later);
      // an uninstall's with the times of Talkdesk's events, so as sent.
      if (event.type === 'app.uninstalled') {
        await lc.sessions.markRemoved(installationId, new Date(event.created_at));
        // An earlier life's uninstall delivered after a same-id reinstall (its workflow ignores it as over) ends the
        // sessions of that life only, those begun by its time: the live installation's are not its to end.
        const beganBy = await earlierLifeSessions(lc, installationId, event.created_at);
        const ended = await lc.sessions.endForInstallation(installationId, beganBy);
        if (ended) lc.logger.info({ installationId, sessionsEnded: ended }, 'uninstall: every session of the installation ended');
      } else if (event.type === 'app.updated' && event.data.users?.removing?.length) {
        const removing = event.data.users.removing;
        // An earlier life's removal delivered after a same-id reinstall (its workflow ignores it as over): that life's
        // sessions only, and no mark, which would hold the live life's sign-ins of these users for a Talkdesk read.
        const earlier = await earlierLifeSessions(lc, installationId, event.created_at);
        if (earlier) {
          const ended = await lc.sessions.endForUsers(installationId, removing, earlier);
          if (ended) lc.logger.info({ installationId, sessionsEnded: ended }, "an earlier life's removal: that life's sessions ended");
          return;
        }
        // A repeat (the first delivery answered 503): marked, and sessions ended, as of the first arrival.
        const at = firstReceivedAt ?? new Date();
        await lc.sessions.markRemoved(installationId, at, removing, new Date(event.created_at));
        // One command for the whole list (up to 10,000 ids), before the answer.
        let ended = await lc.sessions.endForUsers(installationId, removing, firstReceivedAt);
        if (firstReceivedAt) {
          const createdAt = new Date(event.created_at);
          ended += await endSessionsBegunSince(lc, event.data.account_id, installationId, removing, firstReceivedAt, createdAt);
        }
        if (ended) lc.logger.info({ installationId, sessionsEnded: ended }, 'users removed: their sessions ended');
      }
    },

    async userLogout(ctx, json, outcome, checkTime) {
      const parsed = userLogoutSchema.safeParse(json);
      const problem = parsed.success
        ? findUnsafeJson(json)
        : {
            field: fieldPath(parsed.error.issues[0]?.path ?? []),
            message: parsed.error.issues[0]?.message ?? 'invalid event',
          };
      if (!parsed.success || problem) {
        outcome('invalid');
        const { field, message } = problem ?? { field: '(root)', message: 'invalid event' };
        return reply(ctx, 400, { error: { code: 'invalid_event', message: `${field}: ${message}`, field } });
      }
      const event = parsed.data;
      if (event.app_id !== lc.appId) {
        outcome('wrong_app');
        return reply(ctx, 403, {
          error: { code: 'wrong_app', message: 'The event is for another app (app_id does not match TALKDESK_APP_ID).' },
        });
      }
      const timeProblem = checkTime(event.created_at);
      if (timeProblem) {
        outcome('invalid');
        return reply(ctx, 400, { error: { code: timeProblem.code, message: timeProblem.message, field: 'created_at' } });
      }
      const { installation_id: installationId, user_id: talkdeskUserId, account_id: accountId, user_email: email } = event.data;
      const log = lc.logger.child({ installationId, eventId: event.id, type: event.type });
      try {
        const receivedAt = new Date();
        // Owed before it is stored: one stored whose handling then fails, never delivered again, the backstop finds.
        const owed = await lc.logoutEvents.owe(event.id, receivedAt);
        const stored = await lc.logoutEvents.insert({
          _id: event.id,
          installationId,
          type: 'user.logout',
          createdAt: new Date(event.created_at),
          // Its first arrival (a repeat whose first delivery's insert failed): the backstop times it from the record.
          receivedAt: owed.firstReceivedAt,
          logout: { accountId, talkdeskUserId, ...(email ? { email } : {}), occurredAt: event.created_at },
        });
        if (!stored.stored && stored.conflict) {
          // Not a redelivery: acting on it would end sessions and mark nothing (the stored record is another event's).
          log.error('event id already stored for another event: user.logout refused, nothing stored');
          outcome('refused');
          return reply(ctx, 409, {
            error: {
              code: 'event_id_conflict',
              message:
                'An event with this id is already stored for another installation, user or event type; event ids are unique, so this one was not stored.',
            },
          });
        }
        if (!stored.stored && stored.handled) {
          outcome('duplicate');
          return reply(ctx, 200, { status: 'duplicate', eventId: event.id });
        }
        // Failing after the insert, it is answered 503 and delivered again; with no delivery left, the backstop pass takes it.
        // A redelivery after a failure: its forward may have been kept (and delivered) by the first attempt.
        const forwardKept = !stored.stored && owed.forwardKept;
        // As of its first arrival (a repeat after a 503): timed from this one, it would end sessions begun since. The
        // record's, if earlier (its owed entry settled and written again by this repeat).
        const recorded = stored.stored ? undefined : stored.receivedAt;
        const firstAt = recorded && recorded < owed.firstReceivedAt ? recorded : owed.firstReceivedAt;
        const { ended, pending } = await handleStoredLogout(
          lc,
          {
            eventId: event.id,
            installationId,
            accountId,
            talkdeskUserId,
            ...(email ? { email } : {}),
            createdAt: event.created_at,
            receivedAt: firstAt,
          },
          { forwardKept, firstAt },
        );
        log.info({ talkdeskUserId, sessionsEnded: ended }, 'user.logout: sessions ended');
        outcome(stored.stored ? 'accepted' : 'duplicate');
        reply(ctx, 200, { status: stored.stored ? 'accepted' : 'duplicate', eventId: event.id, sessionsEnded: ended });
        // After the answer; a failure is sent again by the forwarder's periodic pass.
        if (pending && lc.logoutForwarder) lc.logoutForwarder.sendNow(pending);
      } catch (err) {
        // As the callback answers other events: nothing was accepted, so Talkdesk must deliver again (503),
        // whatever the store failed with; a failure other than a MongoError is logged apart so its cause shows.
        if (err instanceof MongoError) log.error({ error: err.name }, 'user.logout not handled: MongoDB unavailable');
        else log.error({ err }, 'user.logout not handled: unexpected error');
        outcome('store_unavailable');
        ctx.set('Retry-After', '30');
        return reply(ctx, 503, {
          error: {
            code: 'store_unavailable',
            message: storeUnavailableMessage('The event may not have been stored', err),
          },
        });
      }
    },
  };
}

/**
 * For an event older than the installation's install (an earlier life's, delivered after a same-id reinstall): the time
 * by which that life's sessions began (its time plus the clock allowance). Undefined for the live life's events.
 */
async function earlierLifeSessions(lc: LaunchContext, installationId: string, createdAt: string): Promise<Date | undefined> {
  const rec = await lc.store.installations.get(installationId);
  const earlierLife = rec?.installEventAt !== undefined && Date.parse(rec.installEventAt) > Date.parse(createdAt);
  return earlierLife ? new Date(Date.parse(createdAt) + LOGOUT_CLOCK_ALLOWANCE_MS) : undefined;
}
