import { FINAL_PHASES, type InstallationPhase, type LifecycleEvent, type ReconcileAction } from '../definitions';
import { keepLast, markHandled, recordIgnored } from '../state';
import { MARKED_ACTIVE, deprovisionAccount, destroyCredentials, rejectAtTalkdesk, undoProvisioning } from './common';
import type { PhaseContext } from './context';

/**
 * Patch: an operator reject takes a queued install out of the queue and imports
 * the install's credentials when they were not yet, to send the rejection.
 * Histories recorded before it replay the old path.
 */
const OPERATOR_REJECT_USES_INSTALL_EVENT = 'operator-reject-uses-install-event';

/** The `reject` update, once the running phase (if any) has stopped: reject at Talkdesk and undo everything. */
export async function runOperatorReject(ctx: PhaseContext, reason: string): Promise<void> {
  const { state } = ctx;
  const deadline = Date.now() + ctx.options.phaseTimeoutMs;
  let importFrom: LifecycleEvent | undefined;
  if (ctx.patched(OPERATOR_REJECT_USES_INSTALL_EVENT)) {
    // An install still queued is the one rejected: it must not run afterwards.
    const queued = state.queue.find((e) => e.type === 'app.installed');
    if (queued) {
      state.queue = state.queue.filter((e) => e !== queued);
      recordIgnored(state, queued.eventId, 'install rejected by an operator before it began');
      markHandled(state, queued.eventId);
    }
    // Credentials not imported yet (the first seconds of an install): import them so Talkdesk hears of the rejection.
    if (!state.activeClientId) importFrom = queued ?? ctx.run.installEvent;
  }
  const sentReason = `Rejected by operator: ${reason}`;
  // The operation rejected: an update the reject interrupted, else the install.
  const last = state.history[state.history.length - 1];
  const concludes = last?.phase === 'updating' && last.result === 'interrupted' ? 'update' : 'install';
  const sent = await rejectAtTalkdesk(ctx, sentReason, deadline, importFrom, concludes);
  await undoProvisioning(ctx, ctx.run.installEvent);
  await destroyCredentials(ctx);
  await ctx.endPhase('rejected', {
    result: 'rejected',
    detail: sentReason,
    outcome: `rejected by an operator: ${reason} (rejection ${sent})`,
  });
}

/** Drift found by reconciliation: Talkdesk completed the phase, or ended the installation while it is live here. */
export async function runReconcile(ctx: PhaseContext, action: ReconcileAction): Promise<void> {
  const { state } = ctx;
  if (action.action === 'markActive') {
    if (state.phase === 'installing' || state.phase === 'updating') await ctx.endPhase('active', MARKED_ACTIVE);
    return;
  }
  // The update phase it interrupted has already ended it (reverted); the installation is kept.
  if (action.action === 'endUpdate') return;
  if (FINAL_PHASES.includes(state.phase)) return;
  await deprovisionAccount(ctx);
  await destroyCredentials(ctx);
  state.activeClientId = undefined;
  const phase: InstallationPhase =
    action.talkdeskState === 'revoked' ? 'uninstalled' : action.talkdeskState === 'rejected' ? 'rejected' : 'expired';
  const detail = `Talkdesk reports ${action.talkdeskState}`;
  // An entry of its own, ended by endPhase: the phase it interrupted (if any) already ended.
  state.history = keepLast([...state.history, { phase, startedAt: new Date().toISOString() }]);
  await ctx.endPhase(phase, { result: 'deprovisioned', detail, outcome: `${detail}: deprovisioned by reconciliation` });
}
