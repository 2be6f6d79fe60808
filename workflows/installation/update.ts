import type { UpdateResult } from '../activity-types';
import type { LifecycleEventOf } from '../definitions';
import {
  MARK_ACTIVE,
  OPERATOR_REJECT,
  approvalMayHaveLanded,
  conclude,
  partnerEvent,
  rejectReadingTalkdesk,
  rejectionFor,
  rejectionOutcome,
  takeLinks,
  FAILED_PHASE_YIELDS_TO_QUEUED_UNINSTALL,
  accountUndoOptions,
} from './common';
import { concludedAtDeadline, keptAtDeadline } from './deadline-read';
import { uninstallQueued } from '../state';
import { NotOpenError, type PhaseContext } from './context';
import { adoptingQueuedRotation, resumedAdoption } from './queued-rotation';
import type { PhaseOutcome } from '../steps';

/**
 * Patch: an update stopped or failed while its change was being applied (an attempt under way or
 * backing off, or failing for good after one that timed out) is reverted too; before it, only one
 * whose applying step had answered was.
 */
export const REVERT_UPDATE_STOPPED_WHILE_APPLYING = 'revert-update-stopped-while-applying';

/**
 * Patch: an operator reject that stopped an update after its approval began (an attempt whose answer was lost may
 * have landed) reverts nothing yet: the reject reads Talkdesk first (operator.ts) and keeps an update Talkdesk shows
 * completed. Before it, the update was reverted while Talkdesk kept it. Decided at start only (patches.ts).
 */
export const OPERATOR_REJECT_OF_UPDATE_READS_TALKDESK_FIRST = 'operator-reject-of-update-reads-talkdesk-first';

/**
 * Patch: the update a lost run left under way (its record `updating`, resumed by reconciliation) counts as being
 * applied from the start: stopped or expired before its body runs again, it is reverted (the plan its first attempt
 * kept, if any). Before it, only one whose body ran again was: the account kept a change Talkdesk never approved.
 * Decided at start only (patches.ts).
 */
export const RESUMED_UPDATE_REVERTED_WHEN_STOPPED = 'resumed-update-reverted-when-stopped';

/**
 * Patch: a late update's calls (its plan, reading, partner key and revert) are keyed by the newest update applied when
 * it began too (`UpdateInput.lateAfter`), so the event handled again after a newer update re-reads Talkdesk instead of
 * re-applying a change planned before it. Decided at start (patches-decided-at-start-15).
 */
export const LATE_UPDATE_KEYED_BY_NEWEST_APPLIED = 'late-update-keyed-by-newest-applied';

/** The update a lost run left under way: by its id (records written since it is kept), else by its time. */
function wasUnderWay(resumed: { eventId?: string; createdAt?: string } | undefined, event: LifecycleEventOf<'app.updated'>): boolean {
  if (resumed?.eventId !== undefined) return resumed.eventId === event.eventId;
  return resumed?.createdAt !== undefined && Date.parse(resumed.createdAt) === Date.parse(event.createdAt);
}

/**
 * app.updated: apply the users and subscription delta, approve at Talkdesk; anything short of it is reverted.
 * `late` (older than an update already applied): its delta is stale, so the licensed users are re-read from
 * Talkdesk and the difference applied; its subscription is taken only if no newer update set one.
 */
export async function runUpdate(ctx: PhaseContext, event: LifecycleEventOf<'app.updated'>, late = false): Promise<void> {
  const { state, acts, installationId } = ctx;
  const users = late ? {} : (event.facts.users ?? {});
  const newest = !state.subscriptionFrom || Date.parse(event.createdAt) > Date.parse(state.subscriptionFrom);
  const subscription = newest ? event.facts.subscription : undefined;
  takeLinks(ctx, event);
  ctx.run.updateLate = late;
  ctx.run.updateEvent = event;
  // Moves only once an update's phase ends (apply.ts), so every attempt of this handling, and a run resumed with
  // nothing applied since, name the same. Decided at start (a late update under way in a run started before keeps the
  // event's key), and carried by a continue-as-new mid-phase, so its phase never changes key.
  const resumedHere = ctx.run.resumedEventId === event.eventId;
  const keyed = late && (resumedHere ? ctx.run.resumedLateKeyed === true : ctx.patched(LATE_UPDATE_KEYED_BY_NEWEST_APPLIED));
  ctx.run.updateLateKeyed = keyed;
  const lateAfter = keyed ? state.appliedAt?.update : undefined;
  const deadline = await ctx.beginPhase('updating', event);
  let applied: UpdateResult | undefined;
  // Re-entered after continue-as-new mid-phase, or the update a lost run left under way: the previous run may have
  // applied it (its result is not carried).
  const leftUnderWay = wasUnderWay(ctx.run.resumedUpdate, event) && ctx.patched(RESUMED_UPDATE_REVERTED_WHEN_STOPPED);
  let applying = ctx.run.resumedEventId === event.eventId || leftUnderWay;
  const outcome = await ctx.phases.run(deadline, async () => {
    await resumedAdoption(ctx);
    applying = true;
    applied = await adoptingQueuedRotation(ctx, () =>
      ctx.step(
        'apply the update (users and subscription)',
        acts.applyUpdate,
        {
          ...ctx.talkdeskRef(),
          accountId: state.accountId ?? '',
          usersAdding: users.adding ?? [],
          usersRemoving: users.removing ?? [],
          subscription,
          ...(late ? { resyncUsers: true } : {}),
          ...(lateAfter ? { lateAfter } : {}),
          ...partnerEvent(event),
        },
        ctx.withHeartbeat,
      ),
    );
    // A late one is never sent: what Talkdesk has open is newer (docs/lifecycle.md, "State calls").
    await adoptingQueuedRotation(ctx, () =>
      ctx.stateCall('approve the update at Talkdesk', { state: 'approve', concludes: 'update', ...(late ? { late } : {}) }),
    );
  });
  /**
   * Without `applied` (stopped or failed while applying: an attempt may have applied the change before it
   * was cancelled, timed out or lost its answer), patched: the revert is sent without it and the activity
   * reverts the change the update's first attempt planned, if it planned one. Asked only then: after the
   * applying activity's end, never right after a local activity (docs/versioning.md).
   */
  const revert = async () => {
    const input = { installationId, accountId: state.accountId ?? '', ...(lateAfter ? { lateAfter } : {}), ...partnerEvent(event) };
    if (applied) await ctx.step('revert the update', acts.revertUpdate, { ...input, applied }, accountUndoOptions(ctx));
    else if (applying && ctx.patched(REVERT_UPDATE_STOPPED_WHILE_APPLYING))
      await ctx.step('revert the update', acts.revertUpdate, input, accountUndoOptions(ctx));
  };
  const keepSubscription = () => {
    if (subscription) {
      state.subscription = subscription;
      state.subscriptionFrom = event.createdAt;
    }
  };
  // Concluding now (kept, or reverted and, failed, rejected): an operator's reject accepted meanwhile would send a
  // rejection of its own once this ends, concluding whatever Talkdesk opened since. Refused (handlers.ts): a run flag
  // only a validator reads, so no command changes.
  ctx.run.endingUpdate = endedAs(outcome);
  try {
    await conclude(ctx, outcome, {
      done: async () => {
        keepSubscription();
        await ctx.endPhase(
          'active',
          late
            ? {
                result: 'approved',
                detail: 'late update: licensed users re-read from Talkdesk, subscription of the newest update kept',
                outcome: 'late update approved (users re-read from Talkdesk)',
              }
            : { result: 'approved', outcome: 'update approved' },
        );
      },
      failed: async (error) => {
        const rejection = rejectionFor('Update failed', error);
        // Failed while applying: an earlier attempt may have applied the change (timed out, its answer lost).
        await revert();
        // An uninstall arrived while it was reverted: applied next; the rejection would conclude it at Talkdesk.
        if (uninstallQueued(state) && ctx.patched(FAILED_PHASE_YIELDS_TO_QUEUED_UNINSTALL)) {
          await ctx.endPhase('active', {
            result: 'interrupted',
            detail: 'uninstall',
            outcome: `${rejection.reason}; not rejected at Talkdesk: an uninstall arrived (applied next); update reverted`,
          });
          return ctx.keepError(rejection.reason);
        }
        const { sent, interruptedBy } = await rejectReadingTalkdesk(ctx, rejection.told, deadline, undefined, 'update', late);
        // Not stopped by an operator's reject: one accepted meanwhile is not applied after it (operator.ts). Run state only.
        if (interruptedBy !== OPERATOR_REJECT) ctx.run.updateRejectionEnded = event.eventId;
        await ctx.endPhase('active', {
          result: 'rejected',
          detail: rejection.reason,
          outcome: `${rejectionOutcome(rejection, sent)}; account kept its previous state`,
        });
        // The revert and the rejection's steps cleared the failure: kept visible, like an install's.
        ctx.keepError(rejection.reason);
      },
      notOpen: async (shows) => {
        await revert();
        await ctx.endPhase('active', {
          result: 'not-open',
          detail: shows,
          outcome: `approval not sent: ${shows}; account kept its previous state`,
        });
        ctx.keepError(`update approval not sent: ${shows}`);
      },
      // The update Talkdesk completed is the one applied: its subscription is the account's now.
      completed: () => keepSubscription(),
      expired: async () => {
        // A late update's approval is never sent: nothing of it can have landed.
        if (!late && (await concludedAtDeadline(ctx, event, deadline, 'update'))) {
          keepSubscription();
          return ctx.endPhase('active', keptAtDeadline('update'));
        }
        await revert();
        await ctx.endPhase('active', {
          result: 'expired',
          outcome: 'expired: not approved within seven days; account kept its previous state',
        });
      },
      interrupted: async (reason) => {
        // Stopped by an operator's reject once its approval had begun (or re-entered: an earlier run's may have): Talkdesk
        // may have taken it, the answer lost. Nothing is reverted yet: the reject reads Talkdesk first (operator.ts).
        if (
          reason === OPERATOR_REJECT &&
          approvalMayHaveLanded(ctx, event) &&
          ctx.patched(OPERATOR_REJECT_OF_UPDATE_READS_TALKDESK_FIRST)
        ) {
          ctx.run.updateRejectedAfterApproval = { revert, keep: keepSubscription, deadline };
          await ctx.endPhase('active', {
            result: 'interrupted',
            detail: reason,
            outcome: `interrupted by ${reason} after its approval was sent: reverted unless Talkdesk shows it approved`,
          });
          return;
        }
        await revert();
        await ctx.endPhase('active', { result: 'interrupted', detail: reason, outcome: `interrupted by ${reason}: update reverted` });
      },
    });
  } finally {
    ctx.run.endingUpdate = undefined;
  }
}

/** How an update's phase ended, in words for a refused reject. */
function endedAs(outcome: PhaseOutcome<unknown>): string {
  if (outcome.kind === 'done') return 'approved';
  if (outcome.kind === 'expired') return 'past its seven days';
  if (outcome.kind === 'interrupted') return outcome.reason === MARK_ACTIVE ? 'completed at Talkdesk' : `stopped by ${outcome.reason}`;
  return outcome.error instanceof NotOpenError ? 'not open at Talkdesk' : 'failed: its rejection follows';
}
