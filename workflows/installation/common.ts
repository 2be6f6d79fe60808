import type { ActivityOptions } from '@temporalio/workflow';
import { PARTNER_REFUSED } from '../activity-types';
import { latest, uninstallQueued } from '../state';
import type { LifecycleEvent } from '../definitions';
import { StepFailedError, type PhaseOutcome } from '../steps';
import { NOT_OPEN_AT_TALKDESK, NotOpenError, type PhaseContext, type PhaseEnd } from './context';

/** Interrupt reason when reconciliation learns Talkdesk completed the phase. */
export const MARK_ACTIVE = 'reconciliation: completed at Talkdesk';

export const MARKED_ACTIVE: PhaseEnd = {
  result: 'marked-active',
  outcome: 'completed at Talkdesk: marked active by reconciliation',
};

/** Takes the ids, names and links an event carries about the installation. */
export function takeEventFacts(ctx: PhaseContext, event: LifecycleEvent): void {
  const { state } = ctx;
  state.appId = event.appId;
  state.accountId = event.accountId ?? state.accountId;
  state.accountName = event.accountName ?? state.accountName;
  takeLinks(ctx, event);
}

export function takeLinks(ctx: PhaseContext, event: LifecycleEvent): void {
  ctx.state.links = { ...ctx.state.links, ...event.links };
}

/**
 * Keys the partner's call by the Talkdesk event, so a retry is the same call
 * (activity inputs only: no command changes).
 */
export function partnerEvent(event?: LifecycleEvent): { eventId?: string; occurredAt?: string } {
  return event ? { eventId: event.eventId, occurredAt: event.createdAt } : {};
}

/**
 * Patch: undos, deprovisions and reverts write as many documents as a provision (every user's mapping), so their
 * attempts get the heartbeating activities' timeouts (ten minutes, a dead worker found in 20 s) and a cancellation
 * waits for the attempt to end. Before it, 60 s: a large account's undo or deprovision began again from its first
 * user at every attempt and never ended. Decided at start only (patches.ts).
 */
export const ACCOUNT_UNDO_STEPS_HEARTBEAT = 'account-undo-steps-heartbeat';

/** The options of an undo, deprovision or revert attempt: undefined, the default (before ACCOUNT_UNDO_STEPS_HEARTBEAT). */
export function accountUndoOptions(ctx: PhaseContext): ActivityOptions | undefined {
  return ctx.patched(ACCOUNT_UNDO_STEPS_HEARTBEAT) ? ctx.withHeartbeat : undefined;
}

const accountCall = (ctx: PhaseContext, event?: LifecycleEvent) => ({
  installationId: ctx.installationId,
  accountId: ctx.state.accountId,
  ...partnerEvent(event),
});

/** Undoes what an install provisioned; settings an earlier install made stay for a reinstall. */
export async function undoProvisioning(ctx: PhaseContext, event?: LifecycleEvent): Promise<void> {
  await ctx.step('undo the provisioning', ctx.acts.undoProvisioning, accountCall(ctx, event), accountUndoOptions(ctx));
}

export async function deprovisionAccount(ctx: PhaseContext, event?: LifecycleEvent): Promise<void> {
  await ctx.step('deprovision the partner account', ctx.acts.deprovisionAccount, accountCall(ctx, event), accountUndoOptions(ctx));
}

export async function destroyCredentials(ctx: PhaseContext, rejected?: LifecycleEvent): Promise<void> {
  // An install or rotation newer than the event whose phase ends (a reinstall of the same installation id,
  // and its rotations) keeps the copy of its credentials, the only one there is, for its own import: named
  // when queued here (taken again at each attempt, so one signalled while the destroy retries is named too),
  // and by time when its copy is stored but not yet handed over (the callback stores before it signals).
  // Not an older one (superseded: ignored, or imported only to acknowledge the uninstall, before it). Without
  // an event (an operator's reject, reconciliation), newer than the last one applied and than the install the
  // reject took out of the queue (`rejected`). Only the activity's input changes, not the commands: no patch.
  const times = [ctx.run.applying?.event.createdAt ?? ctx.state.lastAppliedAt, rejected?.createdAt];
  const after = latest(times.filter((t): t is string => t !== undefined));
  await ctx.storeStep('destroy the credentials', 'destroyCredentials', () => {
    const keepEventIds = ctx.state.queue
      .filter((e) => CARRIES_CREDENTIALS.includes(e.type) && (!after || Date.parse(e.createdAt) > Date.parse(after)))
      .map((e) => e.eventId);
    return {
      installationId: ctx.installationId,
      ...(keepEventIds.length > 0 ? { keepEventIds } : {}),
      ...(after ? { keepNewerThan: after } : {}),
    };
  });
  ctx.state.retiring = [];
}

/**
 * Patch: an install that ends (failed, not open, expired, rejected by an operator) while an uninstall waits
 * keeps its credentials: the uninstall acknowledges with them, then destroys them. Before it they were
 * destroyed here, and the uninstall, its credentials gone, was deprovisioned locally: Talkdesk heard neither.
 * Asked only then, after the undo (an activity), never right after a local activity.
 */
export const QUEUED_UNINSTALL_KEEPS_CREDENTIALS = 'queued-uninstall-keeps-credentials';

/** Patch: an ending install no longer names the set it destroyed (an uninstall later ended `failed` on it). Gen. 14. */
export const ENDED_INSTALL_FORGETS_DESTROYED_SET = 'ended-install-forgets-destroyed-set';

/** An ending install's credentials destroyed, unless the queued uninstall needs them (patches above). */
export async function destroyEndingInstallCredentials(ctx: PhaseContext, rejected?: LifecycleEvent): Promise<void> {
  if (uninstallQueued(ctx.state) && ctx.patched(QUEUED_UNINSTALL_KEEPS_CREDENTIALS)) return;
  await destroyCredentials(ctx, rejected);
  if (ctx.patched(ENDED_INSTALL_FORGETS_DESTROYED_SET)) ctx.state.activeClientId = undefined;
}

/** The events whose credentials the callback keeps a copy of until their import. */
const CARRIES_CREDENTIALS: readonly string[] = ['app.installed', 'app.credentials_rotated'];

/**
 * Patch: the encrypted copy of an install's or rotation's credentials that the installation ignores for
 * good (an install older than its uninstall, a rotation of a finished installation) is deleted at once; before it, it stayed until the inbox retention (30 days). Asked in
 * a short run right after its first local activity: decided at start only (patches.ts).
 */
export const DISCARD_IGNORED_CREDENTIALS = 'discard-ignored-credentials';

export async function discardIgnoredCredentials(ctx: PhaseContext, event: LifecycleEvent): Promise<void> {
  if (!ctx.patched(DISCARD_IGNORED_CREDENTIALS)) return;
  await ctx.storeStep("delete the ignored event's credentials", 'discardEventCredentials', {
    installationId: ctx.installationId,
    eventId: event.eventId,
  });
}

/** Takes an event's facts and imports its credentials as the active set (an install's, or a rotation's an uninstall needs). */
export async function adoptEventCredentials(ctx: PhaseContext, event: LifecycleEvent, description: string): Promise<string> {
  takeEventFacts(ctx, event);
  const creds = await ctx.storeStep(description, 'importCredentials', {
    installationId: ctx.installationId,
    eventId: event.eventId,
    activate: true,
  });
  ctx.state.activeClientId = creds.clientId;
  return creds.clientId;
}

/**
 * `adoptEventCredentials` where its failing for good is not fatal (what follows goes on with the set it
 * has, or deprovisions locally without one): undefined when adopted, else why not.
 */
export async function adoptOrWhyNot(ctx: PhaseContext, event: LifecycleEvent, description: string): Promise<string | undefined> {
  try {
    await adoptEventCredentials(ctx, event, description);
    return undefined;
  } catch (err) {
    if (!(err instanceof StepFailedError)) throw err;
    return err.message;
  }
}

/** The interrupt reason of an operator's `reject` (handlers.ts). */
export const OPERATOR_REJECT = 'operator reject';

/**
 * Whether the phase of `event`, interrupted now, may have had its approval land at Talkdesk (the answer lost): its
 * state call began, or this run re-entered the phase (continued as new, or resumed by reconciliation), whose
 * earlier run may have sent it.
 */
export function approvalMayHaveLanded(ctx: PhaseContext, event: LifecycleEvent): boolean {
  return ctx.run.stateCallBegun || ctx.run.resumedEventId === event.eventId || ctx.run.resumedMidPhase === true;
}

/**
 * Patch: a reject that stopped an install after its approval began (an attempt whose answer was lost may have
 * landed) undoes nothing before reading Talkdesk, and keeps the install Talkdesk shows approved; before it, the
 * provisioning was undone and the credentials destroyed for an installation Talkdesk showed installed. Decided
 * at start only (patches.ts).
 */
export const OPERATOR_REJECT_READS_TALKDESK_FIRST = 'operator-reject-reads-talkdesk-first';

/**
 * `importFrom`: an install whose credentials were not imported yet; they are imported to send the rejection with.
 * `concludes`: the operation rejected, so that nothing is sent unless Talkdesk shows it open.
 */
export async function rejectAtTalkdesk(
  ctx: PhaseContext,
  reason: string,
  deadline: number,
  importFrom?: LifecycleEvent,
  concludes?: 'install' | 'update',
  late?: boolean,
): Promise<string> {
  return (await rejectReadingTalkdesk(ctx, reason, deadline, importFrom, concludes, late)).sent;
}

/**
 * Patch: a rejection is not sent while an uninstall waits in the queue (it arrived after an operator's reject was
 * accepted, or as a failed phase was undone): Talkdesk has the uninstall open, and took the rejection for it. Decided
 * at start only (patches.ts).
 */
export const REJECTION_YIELDS_TO_QUEUED_UNINSTALL = 'rejection-yields-to-queued-uninstall';

/** `rejectAtTalkdesk`, and what Talkdesk showed when it was not sent there (`shows`: its state). */
export async function rejectReadingTalkdesk(
  ctx: PhaseContext,
  reason: string,
  deadline: number,
  importFrom?: LifecycleEvent,
  concludes?: 'install' | 'update',
  late?: boolean,
): Promise<{ sent: string; shows?: string; interruptedBy?: string; expired?: boolean }> {
  if (!ctx.canCallTalkdesk() && !importFrom) return { sent: 'not sent: no usable credentials' };
  // An uninstall arrived (after an operator's reject was accepted, or while the failed phase was undone): Talkdesk has
  // it open, and the rejection would conclude it. The uninstall is applied next.
  if (uninstallQueued(ctx.state) && ctx.patched(REJECTION_YIELDS_TO_QUEUED_UNINSTALL)) {
    // The credentials the rejection would have imported: the uninstall acknowledges with them.
    const why = importFrom ? await adoptOrWhyNot(ctx, importFrom, 'import the credentials') : undefined;
    return {
      sent: `not sent: an uninstall arrived (Talkdesk has it open; applied next)${why ? `; credentials not imported: ${why}` : ''}`,
    };
  }
  const sent = await ctx.phases.run(deadline, async () => {
    // Given only when the installation does not hold the install's own set (none yet, or an earlier life's: operator.ts).
    if (importFrom) {
      await adoptEventCredentials(ctx, importFrom, 'import the credentials to send the rejection with');
    }
    await ctx.stateCall('reject the installation at Talkdesk', {
      state: 'reject',
      reason,
      ...(concludes ? { concludes } : {}),
      ...(late ? { late } : {}),
    });
  });
  if (sent.kind === 'done') return { sent: 'sent' };
  if (sent.kind === 'failed' && sent.error.failureType === NOT_OPEN_AT_TALKDESK) {
    return { sent: `not sent: ${sent.error.message}`, shows: sent.error instanceof NotOpenError ? sent.error.talkdeskState : undefined };
  }
  return {
    sent: `not sent (${sent.kind})`,
    ...(sent.kind === 'interrupted' ? { interruptedBy: sent.reason } : {}),
    ...(sent.kind === 'expired' ? { expired: true } : {}),
  };
}

/** A failed phase's reason in full (history, `lastError`) and as told to Talkdesk. */
export interface Rejection {
  reason: string;
  told: string;
}

/**
 * Talkdesk shows a rejection's reason to the customer's admin: a partner's refusal goes in its
 * own words; any other failure by its type alone, since its message is written for the partner's
 * operators (what to check, which setting), who find it whole in the phase's `detail` and in `lastError`.
 */
export function rejectionFor(prefix: string, error: StepFailedError): Rejection {
  const reason = `${prefix}: ${error.message}`;
  // A refusal without a reason of its own names its HTTP status (a 401: often our PARTNER_HOOKS_SECRET): for operators.
  if (error.failureType === PARTNER_REFUSED) {
    return { reason, told: reason.replace(/(The partner refused the request) \(HTTP \d{3}\)$/, '$1') };
  }
  return { reason, told: `${prefix}: the app's service could not complete it (${error.failureType}). Contact the app's provider.` };
}

/** The history's outcome of a rejected phase: what Talkdesk was told too, when that differs. */
export function rejectionOutcome({ reason, told }: Rejection, sent: string): string {
  return told === reason ? `${reason} (rejection ${sent})` : `${reason} (rejection ${sent}: "${told}")`;
}

/**
 * Patch: an install or update that fails for good with an uninstall queued (it arrived as the step failed, or while
 * the failed update was reverted) ends as that uninstall's interruption: no rejection is sent, which Talkdesk would
 * have taken for the uninstall it has open. Before it, the rejection was sent and the uninstall found `rejected`
 * (not acknowledged, deprovisioned locally). Decided at start only (patches.ts).
 */
export const FAILED_PHASE_YIELDS_TO_QUEUED_UNINSTALL = 'failed-phase-yields-to-queued-uninstall';

/**
 * The end of a phase that owns a Talkdesk operation (install, update): one
 * handler per way it can end. Talkdesk having completed the operation
 * (reconciliation's interrupt) ends it as active, keeping what it did.
 */
export async function conclude<T>(
  ctx: PhaseContext,
  outcome: PhaseOutcome<T>,
  on: {
    done(): Promise<void>;
    failed(error: StepFailedError): Promise<void>;
    /** The operation was not open at Talkdesk (`shows`: what it showed, in words): nothing was sent. */
    notOpen(shows: string, talkdeskState: string): Promise<void>;
    expired(): Promise<void>;
    interrupted(reason: string): Promise<void>;
    /** Talkdesk completed the operation (reconciliation): keep what the phase did. */
    completed?(): void;
  },
): Promise<void> {
  switch (outcome.kind) {
    case 'done':
      return on.done();
    case 'failed':
      if (outcome.error instanceof NotOpenError) return on.notOpen(outcome.error.message, outcome.error.talkdeskState);
      // The uninstall's interrupt lost the race with the step's failure: it stops the phase all the same (a rejection
      // sent now would conclude the uninstall Talkdesk has open).
      if (uninstallQueued(ctx.state) && ctx.patched(FAILED_PHASE_YIELDS_TO_QUEUED_UNINSTALL)) {
        await on.interrupted('uninstall');
        // Why it failed stays on its history entry (the uninstall's steps clear `lastError` soon).
        const failure = `${outcome.error.step} failed: ${outcome.error.message}; not rejected at Talkdesk: an uninstall arrived`;
        const entry = ctx.state.history.find((h) => h.eventId !== undefined && h.eventId === ctx.run.applying?.event.eventId);
        if (entry) entry.outcome = `${entry.outcome ?? ''}; ${failure}`;
        return ctx.keepError(failure);
      }
      return on.failed(outcome.error);
    case 'expired':
      return on.expired();
    case 'interrupted':
      if (outcome.reason === MARK_ACTIVE) {
        on.completed?.();
        return ctx.endPhase('active', MARKED_ACTIVE);
      }
      return on.interrupted(outcome.reason);
  }
}
