import { FINAL_PHASES, type InstallationPhase, type LifecycleEvent, type ReconcileAction } from '../definitions';
import { showsOperationOpen } from '../talkdesk-states';
import { keepLast, markHandled, newerOperationQueued, olderThanApplied, recordIgnored } from '../state';
import {
  MARKED_ACTIVE,
  OPERATOR_REJECT,
  deprovisionAccount,
  destroyCredentials,
  destroyEndingInstallCredentials,
  rejectReadingTalkdesk,
  undoProvisioning,
} from './common';
import { StepFailedError } from '../steps';
import type { PhaseContext } from './context';
import {
  OPERATOR_REJECT_OF_INSTALL_READS_AT_DEADLINE,
  OPERATOR_REJECT_OF_UPDATE_READS_AT_DEADLINE,
  readsConcludedAtDeadline,
} from './deadline-read';
import { EARLIER_LIFE_INSTALL_OVER, INTERRUPTED_INSTALL_IMPORTS_TO_ANSWER, holdsOwnSet, installOfEarlierLife } from './install';
import { adoptedForInstall, CALL_ADOPTS_QUEUED_ROTATION } from './queued-rotation';
import type { RunState } from './run-state';
import { markRevokedEnd } from './earlier-life';

/**
 * Patch: an operator reject takes a queued install out of the queue and imports
 * the install's credentials when they were not yet, to send the rejection.
 * Histories recorded before it replay the old path.
 */
const OPERATOR_REJECT_USES_INSTALL_EVENT = 'operator-reject-uses-install-event';

/**
 * Patch: a reject applies to the operation it stopped. An update's reject rejects the update only
 * (reverted, before or after the rejection) and keeps the installation, which Talkdesk keeps; an install or update Talkdesk
 * approved first (the approval landed before the reject could stop it) is not undone. Histories
 * recorded before it replay the old path (reject, undo and destroy in every case). Decided when the
 * reject is accepted (handlers.ts), never after the local activity that ends the phase it stopped.
 */
export const OPERATOR_REJECT_CONCLUDED_OPERATIONS = 'operator-reject-concluded-operations';

/**
 * The `reject` update, once the running phase (if any) has stopped: reject the install at Talkdesk and
 * undo everything; on an active installation (patch above), only what the stopped phase left open.
 */
export async function runOperatorReject(ctx: PhaseContext, reason: string): Promise<void> {
  const { state } = ctx;
  // The install stopped after its approval began (patch operator-reject-reads-talkdesk-first): it holds its credentials.
  const afterApproval = ctx.run.rejectAfterApproval === true;
  ctx.run.rejectAfterApproval = undefined;
  // The update stopped after its approval began (patch operator-reject-of-update-reads-talkdesk-first): not reverted yet.
  const updateAfterApproval = ctx.run.updateRejectedAfterApproval;
  ctx.run.updateRejectedAfterApproval = undefined;
  // The operation it was accepted for ended first (failed, not open or timed out at Talkdesk, deprovisioned by
  // reconciliation): nothing is left to reject or undo (patch below). The flags above are cleared all the same.
  if (FINAL_PHASES.includes(state.phase) && ctx.patched(OPERATOR_REJECT_AFTER_THE_END_NOT_APPLIED)) {
    return ctx.endPhase(state.phase, {
      result: 'not-open',
      detail: `the installation had already ended ${state.phase}`,
      outcome: `operator reject not applied: the installation had ended ${state.phase} before the reject could stop it`,
    });
  }
  if (state.phase === 'active' && ctx.run.rejectConcluded) return rejectOnActive(ctx, reason, updateAfterApproval);
  ctx.run.endingInstall = true;
  let importFrom: LifecycleEvent | undefined;
  let queued: LifecycleEvent | undefined;
  const usesInstallEvent = ctx.patched(OPERATOR_REJECT_USES_INSTALL_EVENT);
  if (usesInstallEvent) {
    // An install still queued is the one rejected (after Talkdesk was read, when it may keep the installation).
    if (!afterApproval) queued = takeQueuedInstall(ctx);
    // Credentials not imported yet (the first seconds of an install): import them so Talkdesk hears of the rejection.
    // Patched: nor when the set held is an earlier life's (a same-id reinstall), which Talkdesk revoked.
    const install = queued ?? ctx.run.installEvent;
    const holdsOwn = ctx.patched(INTERRUPTED_INSTALL_IMPORTS_TO_ANSWER)
      ? install === undefined ||
        holdsOwnSet(state, install) ||
        (ctx.patched(CALL_ADOPTS_QUEUED_ROTATION) && adoptedForInstall(state, install))
      : Boolean(state.activeClientId);
    if (!holdsOwn) importFrom = install;
  }
  const sentReason = `Rejected by operator: ${reason}`;
  // The operation rejected: an update the reject interrupted, else the install.
  const last = state.history[state.history.length - 1];
  const concludes = last?.phase === 'updating' && last.result === 'interrupted' ? 'update' : 'install';
  // One that reads Talkdesk first keeps its seven days from now: past the install's own, only a read can tell
  // whether its approval landed (a `timeout` there is not open, so nothing is sent).
  const deadline = afterApproval ? Date.now() + ctx.options.phaseTimeoutMs : operationDeadline(ctx, concludes, queued);
  ctx.run.rejectReadsFirst = afterApproval;
  const { sent, shows, expired } = await rejectReadingTalkdesk(ctx, sentReason, deadline, importFrom, concludes).finally(() => {
    ctx.run.rejectReadsFirst = undefined;
  });
  // Not sent because Talkdesk shows the install approved (completed, or an update or uninstall opened since): kept.
  const openSince = shows === 'pending' || (showsOperationOpen(shows) && ctx.patched(OPERATOR_REJECT_READS_OPEN_STATE_NAMES));
  // Its seven days passed with no answer from Talkdesk: read once more, as an expired install does, before undoing.
  const concludedAtEnd =
    afterApproval &&
    concludes === 'install' &&
    expired === true &&
    ctx.patched(OPERATOR_REJECT_OF_INSTALL_READS_AT_DEADLINE) &&
    (await readsConcludedAtDeadline(ctx, deadline, 'install'));
  if (afterApproval && concludes === 'install' && (shows === 'completed' || openSince || concludedAtEnd)) {
    ctx.run.endingInstall = undefined;
    await ctx.endPhase('active', {
      result: 'not-open',
      detail: concludedAtEnd ? 'Talkdesk shows the install concluded (read at the deadline)' : `Talkdesk shows the install ${shows}`,
      outcome: `operator reject not applied: the install was approved at Talkdesk before the reject could stop it (its answer lost); the installation is kept`,
    });
    return;
  }
  if (afterApproval && usesInstallEvent) queued = takeQueuedInstall(ctx);
  await undoProvisioning(ctx, ctx.run.installEvent);
  await destroyEndingInstallCredentials(ctx, queued); // its copy too: no import follows
  await ctx.endPhase('rejected', {
    result: 'rejected',
    detail: sentReason,
    outcome: `rejected by an operator: ${reason} (rejection ${sent})`,
  });
}

/**
 * Patch: an operator's reject whose operation ended by itself first (the reject accepted as an attempt was failing,
 * or Talkdesk showed it not open or timed out, or reconciliation deprovisioned) is not applied: an installation that
 * ended stays as it ended, and an update that ended not open or expired sends no rejection, which would conclude
 * whatever Talkdesk opened since. Before it, an ended installation was undone again and recorded `rejected`.
 * Decided at start only (patches.ts, the eleventh generation): asked right after a phase's record.
 */
export const OPERATOR_REJECT_AFTER_THE_END_NOT_APPLIED = 'operator-reject-after-the-end-not-applied';

/**
 * Patch: an operator's reject whose update ended by itself otherwise than stopped by it (failed and rejected on its own,
 * its rejection sent or given up; ended to let a queued uninstall run; ended by reconciliation) is not applied either:
 * the reject was accepted as an attempt was in flight whose answer then ended the update. Before it, a second rejection
 * followed, concluding whatever Talkdesk had opened since (an uninstall queued, a newer update). Decided at start only
 * (patches.ts, the twelfth generation): asked right after a phase's record.
 */
export const OPERATOR_REJECT_AFTER_OWN_END_NOT_APPLIED = 'operator-reject-after-own-end-not-applied';

/**
 * Patch: a reject that read Talkdesk first keeps an install Talkdesk shows with an update or uninstall opened since by
 * the launch guide's names too (`updating`, `uninstalled`; talkdesk-states.ts), not only `pending`. Decided at start
 * only (patches.ts).
 */
export const OPERATOR_REJECT_READS_OPEN_STATE_NAMES = 'operator-reject-reads-open-state-names';

/**
 * Patch: an operator's reject is sent within the seven days of the operation it stops (the stopped phase's deadline,
 * or a queued install's from its event), as the phase itself would have been: past them Talkdesk has timed the
 * operation out, and a rejection retried beyond would meet whatever it opened since (a newer update). Before it, the
 * reject had seven days of its own from when it was accepted. Decided at start only (patches.ts).
 */
export const OPERATOR_REJECT_WITHIN_OPERATION_DEADLINE = 'operator-reject-within-operation-deadline';

/**
 * Patch: an operator's reject of an update whose approval had begun, with a newer update or an uninstall delivered behind
 * it, keeps the update when Talkdesk shows an operation open (`pending`): Talkdesk opened the newer one only once this
 * one was concluded, which only its approval could do (a rejection reads `rejected`). Before it, the update was reverted
 * (its rejection, read first, was not sent: it would have concluded the newer operation) though Talkdesk had approved
 * it. Not in a generation: asked only right after the rejection's state call, an activity on the server.
 */
export const OPERATOR_REJECT_OF_UPDATE_KEPT_BEHIND_NEWER = 'operator-reject-of-update-kept-behind-newer';

/** The deadline of an operator's rejection: seven days from now, or sooner the stopped operation's (patch above). */
function operationDeadline(ctx: PhaseContext, concludes: 'install' | 'update', queued?: LifecycleEvent): number {
  const { options, state, run } = ctx;
  const own = Date.now() + options.phaseTimeoutMs;
  if (!ctx.patched(OPERATOR_REJECT_WITHIN_OPERATION_DEADLINE)) return own;
  const last = state.history[state.history.length - 1];
  const install = queued ?? run.installEvent;
  // The stopped phase's entry has its deadline; a queued install that never began, its event's.
  let stopped: number | undefined;
  if (concludes === 'update') {
    if (last?.phase === 'updating' && last.deadline) stopped = Date.parse(last.deadline);
  } else if (last?.phase === 'installing' && last.eventId === install?.eventId) {
    if (last.deadline) stopped = Date.parse(last.deadline);
  } else if (install) {
    stopped = Date.parse(install.createdAt) + options.phaseTimeoutMs - options.phaseMarginMs;
  }
  return stopped === undefined ? own : Math.min(own, stopped);
}

/**
 * Takes an install still queued out of the queue: the one an operator's reject rejects, it must not run afterwards.
 * Under earlier-life-install-over, not one that is over (older than an applied uninstall or install): the reject
 * would take its deadline, long past, and the install under way would never hear its rejection.
 */
function takeQueuedInstall(ctx: PhaseContext): LifecycleEvent | undefined {
  const { state } = ctx;
  const over = (e: LifecycleEvent) =>
    (olderThanApplied(state, 'uninstall', e) || installOfEarlierLife(state, e)) && ctx.patched(EARLIER_LIFE_INSTALL_OVER);
  const queued = state.queue.find((e) => e.type === 'app.installed' && !over(e));
  if (queued) {
    state.queue = state.queue.filter((e) => e !== queued);
    recordIgnored(state, queued.eventId, 'install rejected by an operator before it began');
    markHandled(state, queued.eventId);
  }
  return queued;
}

/**
 * A reject that finds the installation active (approved at Talkdesk: the validator admits none then, so
 * the phase it was sent for ended meanwhile). An update not approved (stopped by the reject, or ended
 * otherwise with its own rejection perhaps unsent) is rejected at Talkdesk, the account as it was (a
 * rejection Talkdesk no longer expects is read, not sent); an install or update approved first is kept. An update
 * stopped after its approval began (`afterApproval`, patch operator-reject-of-update-reads-talkdesk-first) is not
 * reverted yet: Talkdesk is read first, the update kept if it shows it completed, else rejected, then reverted.
 */
async function rejectOnActive(ctx: PhaseContext, reason: string, afterApproval: RunState['updateRejectedAfterApproval']): Promise<void> {
  const last = ctx.state.history[ctx.state.history.length - 1];
  const sentReason = `Rejected by operator: ${reason}`;
  const approved = last?.result === 'approved' || last?.result === 'marked-active';
  const endedUnopen = last?.phase === 'updating' && (last.result === 'not-open' || last.result === 'expired');
  if (endedUnopen && !afterApproval && ctx.patched(OPERATOR_REJECT_AFTER_THE_END_NOT_APPLIED)) {
    return ctx.endPhase('active', {
      result: 'not-open',
      detail: `the update had ended ${last.result}`,
      outcome: `operator reject not applied: the update had ended ${last.result} before the reject could stop it; nothing of it is open at Talkdesk`,
    });
  }
  // Ended by itself, not stopped by this reject (nor left to it after its approval began): nothing of it is left to
  // reject. A failed update whose own rejection this reject stopped is rejected by it (its reason, in its place).
  const ownRejectionEnded = last?.result !== 'rejected' || ctx.run.updateRejectionEnded === last.eventId;
  const stoppedByIt = last?.result === 'interrupted' && last.detail === OPERATOR_REJECT;
  const endedOtherwise = last?.phase === 'updating' && !approved && !stoppedByIt && ownRejectionEnded;
  if (endedOtherwise && !afterApproval && ctx.patched(OPERATOR_REJECT_AFTER_OWN_END_NOT_APPLIED)) {
    const how = last.detail ? `${last.result}: ${last.detail}` : (last.result ?? 'unfinished');
    return ctx.endPhase('active', {
      result: 'not-open',
      detail: `the update had ended ${last.result ?? 'unfinished'}`,
      outcome: `operator reject not applied: the update had ended (${how}) before the reject could stop it; no second rejection is sent`,
    });
  }
  if (last?.phase === 'updating' && !approved) {
    // After its approval began, read first: an update Talkdesk shows completed is kept, not reverted (a `pending`
    // read still sends the rejection, which cannot tell this update from one Talkdesk opened since). Within the
    // update's own seven days: the account keeps the update no longer than Talkdesk would wait. A late update's
    // rejection is never sent (input `late`): what Talkdesk has open is newer, its own was concluded by the newer one.
    ctx.run.rejectReadsFirst = afterApproval !== undefined;
    // Its state call and last read judge at each attempt whether a newer operation was delivered behind it (updateInView).
    const deadline = afterApproval?.deadline ?? operationDeadline(ctx, 'update');
    const late = ctx.run.updateLate === true;
    const { sent, shows, expired } = await rejectReadingTalkdesk(ctx, sentReason, deadline, undefined, 'update', late).finally(() => {
      ctx.run.rejectReadsFirst = undefined;
    });
    // Its run reached the update's deadline with no answer from Talkdesk (every read failed, or it began there): read
    // once more as an expired update does, rather than revert unread what Talkdesk may show completed.
    const completedAtEnd =
      afterApproval !== undefined &&
      !late &&
      expired === true &&
      ctx.patched(OPERATOR_REJECT_OF_UPDATE_READS_AT_DEADLINE) &&
      (await readsConcludedAtDeadline(ctx, afterApproval.deadline, 'update'));
    // Talkdesk shows open the newer update or uninstall delivered behind it: it opened that one only once this update
    // was concluded, and after its approval began that was the approval (the answer lost). Asked only here, right after
    // the state call, an activity on the server (docs/versioning.md).
    const concludedByApproval =
      afterApproval !== undefined &&
      !late && // a late update's approval is never sent: only a newer update's concluded its operation
      shows !== undefined &&
      showsOperationOpen(shows) &&
      newerOperationQueued(ctx.state, ctx.run.updateEvent) &&
      ctx.patched(OPERATOR_REJECT_OF_UPDATE_KEPT_BEHIND_NEWER);
    if (afterApproval && (shows === 'completed' || completedAtEnd || concludedByApproval)) {
      afterApproval.keep();
      await ctx.endPhase('active', {
        result: 'not-open',
        detail: completedAtEnd
          ? 'Talkdesk shows the update completed (read at its deadline)'
          : concludedByApproval
            ? `Talkdesk shows ${shows}: a newer operation, opened once the update was approved`
            : 'Talkdesk shows the update completed',
        outcome:
          'operator reject not applied: the update was approved at Talkdesk before the reject could stop it (its answer lost); the update is kept',
      });
      return;
    }
    // The rejection is sent before the revert: one failing for good then ends the entry with the failure in view,
    // rather than failing the workflow, whose stored record (`active`) would hide that the account kept the update.
    const revertFailed = await afterApproval?.revert().then(
      () => undefined,
      (err: unknown) => {
        if (err instanceof StepFailedError) return err.message;
        throw err;
      },
    );
    const ended = last.result === 'interrupted' ? '' : ` (the update had ended ${last.result ?? 'unfinished'})`;
    const kept = revertFailed
      ? `its revert failed for good (${revertFailed}): the account may keep the update`
      : 'account kept its previous state';
    await ctx.endPhase('active', {
      result: 'rejected',
      detail: sentReason,
      outcome: `update rejected by an operator: ${reason}${ended} (rejection ${sent}); ${kept}`,
    });
    if (revertFailed) ctx.keepError(`revert of the update rejected by an operator failed for good: ${revertFailed}`);
    return;
  }
  const what = last?.phase === 'updating' ? 'the update' : 'the install';
  await ctx.endPhase('active', {
    result: 'not-open',
    detail: `Talkdesk shows ${what} completed`,
    outcome: `operator reject not applied: ${what} was approved at Talkdesk before the reject could stop it; the installation is kept`,
  });
}

/** Drift found by reconciliation: Talkdesk completed the phase, or ended the installation while it is live here. */
export async function runReconcile(ctx: PhaseContext, action: ReconcileAction): Promise<void> {
  const { state } = ctx;
  if (action.action === 'markActive') {
    if (state.phase === 'installing' || state.phase === 'updating') await ctx.endPhase('active', MARKED_ACTIVE);
    return;
  }
  // The update phase it interrupted has already ended it (reverted, or left to a reject under way); the installation is kept.
  if (action.action === 'endUpdate') return;
  if (FINAL_PHASES.includes(state.phase)) return;
  ctx.run.endingInstall = true; // a reject accepted now would find the credentials destroyed
  await deprovisionAccount(ctx);
  await destroyCredentials(ctx);
  state.activeClientId = undefined;
  const phase: InstallationPhase =
    action.talkdeskState === 'revoked' ? 'uninstalled' : action.talkdeskState === 'rejected' ? 'rejected' : 'expired';
  const detail = `Talkdesk reports ${action.talkdeskState}`;
  if (action.talkdeskState === 'revoked') markRevokedEnd(ctx, action.endedAt);
  // An entry of its own, ended by endPhase: the phase it interrupted (if any) already ended.
  state.history = keepLast([...state.history, { phase, startedAt: new Date().toISOString() }]);
  await ctx.endPhase(phase, { result: 'deprovisioned', detail, outcome: `${detail}: deprovisioned by reconciliation` });
}
