import type { LifecycleEvent, LifecycleEventOf } from '../definitions';
import { olderThanApplied, type InstallationState } from '../state';
import {
  OPERATOR_REJECT,
  approvalMayHaveLanded,
  OPERATOR_REJECT_READS_TALKDESK_FIRST,
  adoptOrWhyNot,
  conclude,
  destroyEndingInstallCredentials,
  partnerEvent,
  rejectAtTalkdesk,
  rejectionFor,
  rejectionOutcome,
  takeEventFacts,
  undoProvisioning,
} from './common';
import { concludedAtDeadline, keptAtDeadline } from './deadline-read';
import { STORE_STEPS_LOCAL, type PhaseContext } from './context';
import { adoptedForInstall, adoptingQueuedRotation, CALL_ADOPTS_QUEUED_ROTATION, resumedAdoption } from './queued-rotation';

/**
 * Patch: an app.installed older than the applied install (an earlier life of a same-id reinstall, its delivery retried
 * after the reinstall was applied) is over: ignored, its credentials copy discarded (late.ts). Before it, unless an
 * uninstall had been applied after it, it ran as an install on the live installation: its revoked set made active, the
 * provisioning failing for good, the live account undone and its credentials destroyed. Decided at start only.
 */
export const EARLIER_LIFE_INSTALL_OVER = 'earlier-life-install-over';

/**
 * Patch: an install an uninstall interrupted before it held its own set (its import still retrying, or the set of an
 * earlier life of a same-id reinstall active) imports its set for the uninstall to answer Talkdesk with, as one stopped
 * at its start gate did; an operator's reject of it imports it in place of an earlier life's set too (operator.ts).
 * Before it, the uninstall or the rejection went with no set, or a revoked one: Talkdesk never told.
 * Decided at start only (patches.ts, the twelfth generation): asked once the phase ended, perhaps after a local activity.
 */
export const INTERRUPTED_INSTALL_IMPORTS_TO_ANSWER = 'interrupted-install-imports-to-answer';

/** Whether the installation's active set is the install's own (its event names its client id; older events may not). */
export function holdsOwnSet(state: InstallationState, event: LifecycleEvent): boolean {
  const own = (event.facts as { client_id?: string }).client_id;
  return state.activeClientId !== undefined && (own === undefined || state.activeClientId === own);
}

/**
 * An app.installed older than the applied one: the install of an earlier life (a same-id reinstall was applied since;
 * for a finished installation, its record's, under finished-run-knows-event-times).
 */
export function installOfEarlierLife(state: InstallationState, event: LifecycleEvent): boolean {
  return event.type === 'app.installed' && olderThanApplied(state, 'install', event);
}

/**
 * app.installed: import the credentials, prove them with a token (the first Talkdesk call
 * of provisioning gets it), provision the account and its users, approve at Talkdesk. Anything short of the approval is undone.
 */
export async function runInstall(ctx: PhaseContext, event: LifecycleEventOf<'app.installed'>): Promise<void> {
  const { state, acts, installationId } = ctx;
  ctx.run.installEvent = event;
  ctx.run.endingInstall = undefined;
  takeEventFacts(ctx, event);
  const deadline = await ctx.beginPhase('installing', event);
  const outcome = await ctx.phases.run(deadline, async () => {
    // Re-entered (continue-as-new mid-phase) after a call adopted a queued rotation's set: that import destroyed this
    // event's set, the one Talkdesk no longer keeps; importing it again would fail the install.
    const readopted = await resumedAdoption(ctx);
    if (!readopted && !(adoptedForInstall(state, event) && ctx.patched(CALL_ADOPTS_QUEUED_ROTATION))) {
      const creds = await ctx.storeStep('import the credentials from the event', 'importCredentials', {
        installationId,
        eventId: event.eventId,
        activate: true,
      });
      state.activeClientId = creds.clientId;
    }
    // Patched: the token comes with provisioning's first Talkdesk call (GET /account), before anything is
    // provisioned, so credentials Talkdesk refuses still fail the install (invalid_client, non-retryable).
    if (!ctx.patched(STORE_STEPS_LOCAL))
      await ctx.step('obtain an access token', acts.obtainToken, { installationId, clientId: state.activeClientId ?? '' });
    const prov = await adoptingQueuedRotation(ctx, () =>
      ctx.step(
        'provision the partner account and its users',
        acts.provisionAccount,
        { ...ctx.talkdeskRef(), accountName: state.accountName ?? '', ...partnerEvent(event) },
        ctx.withHeartbeat,
      ),
    );
    state.accountId = prov.accountId;
    state.accountName = prov.accountName;
    state.settingsRestored = prov.settingsRestored;
    ctx.publish();
    await adoptingQueuedRotation(ctx, () =>
      ctx.stateCall('approve the installation at Talkdesk', { state: 'approve', concludes: 'install' }),
    );
  });
  // Stopped at its start gate, before its import: take its credentials all the same, so the uninstall
  // or reject that stopped it answers Talkdesk with them (as it does once the install has imported them). Patched: so
  // does an uninstall that stopped it later, while its import retried, or holding an earlier life's set (a same-id
  // reinstall), not its own. A reject imports within its own rejection, which an uninstall can still stop (operator.ts:
  // under the same patch, also in place of an earlier life's set).
  if (outcome.kind === 'interrupted') {
    const atStart = outcome.atStart === true && !state.activeClientId;
    const byUninstall =
      outcome.reason === 'uninstall' &&
      !holdsOwnSet(state, event) &&
      !(ctx.patched(CALL_ADOPTS_QUEUED_ROTATION) && adoptedForInstall(state, event));
    if (atStart || (byUninstall && ctx.patched(INTERRUPTED_INSTALL_IMPORTS_TO_ANSWER))) await importToAnswer(ctx, event);
  }
  await conclude(ctx, outcome, {
    done: () =>
      ctx.endPhase(
        'active',
        state.settingsRestored
          ? { result: 'approved', detail: 'settings restored', outcome: 'approved (settings restored)' }
          : { result: 'approved', outcome: 'approved' },
      ),
    failed: async (error) => {
      ctx.run.endingInstall = true;
      const rejection = rejectionFor('Provisioning failed', error);
      const { reason } = rejection;
      const sent = await rejectAtTalkdesk(ctx, rejection.told, deadline, undefined, 'install');
      await undoProvisioning(ctx, event);
      await destroyEndingInstallCredentials(ctx);
      await ctx.endPhase('rejected', { result: 'rejected', detail: reason, outcome: rejectionOutcome(rejection, sent) });
      // Kept visible (state query, current details): the reason the installation ended here.
      ctx.keepError(reason);
    },
    notOpen: async (shows, talkdeskState) => {
      ctx.run.endingInstall = true;
      // Not approved: undone, and what Talkdesk showed is kept for reconciliation to report.
      await undoProvisioning(ctx, event);
      await destroyEndingInstallCredentials(ctx);
      const ended = talkdeskState === 'timeout' ? 'expired' : talkdeskState === 'revoked' ? 'uninstalled' : 'rejected';
      await ctx.endPhase(ended, {
        result: 'not-open',
        detail: shows,
        outcome: `approval not sent: ${shows}; provisioning undone`,
      });
      ctx.keepError(`approval not sent: ${shows}`);
    },
    expired: async () => {
      if (await concludedAtDeadline(ctx, event, deadline, 'install')) return ctx.endPhase('active', keptAtDeadline('install'));
      ctx.run.endingInstall = true;
      await undoProvisioning(ctx, event);
      await destroyEndingInstallCredentials(ctx);
      await ctx.endPhase('expired', {
        result: 'expired',
        outcome: 'not approved within seven days of the event: provisioning undone',
      });
    },
    interrupted: async (reason) => {
      // Stopped by an operator's reject once its approval had begun: Talkdesk may have taken it (the answer lost).
      // Nothing is undone yet: the reject reads Talkdesk first, and keeps an install Talkdesk shows approved.
      // So may a phase this run re-entered (continued as new, or resumed by reconciliation): its earlier run's approval.
      if (reason === OPERATOR_REJECT && approvalMayHaveLanded(ctx, event) && ctx.patched(OPERATOR_REJECT_READS_TALKDESK_FIRST)) {
        ctx.run.rejectAfterApproval = true;
        await ctx.endPhase(state.phase, {
          result: 'interrupted',
          detail: reason,
          outcome: `interrupted by ${reason} after its approval was sent: undone unless Talkdesk shows it approved`,
        });
        return;
      }
      await undoProvisioning(ctx, event);
      await ctx.endPhase(state.phase, { result: 'interrupted', detail: reason, outcome: `interrupted by ${reason}: provisioning undone` });
    },
  });
}

/** Imports an install's credentials to answer Talkdesk with; without them, what follows deprovisions locally. */
async function importToAnswer(ctx: PhaseContext, event: LifecycleEventOf<'app.installed'>): Promise<void> {
  const notImported = await adoptOrWhyNot(ctx, event, 'import the credentials from the event');
  if (notImported !== undefined) ctx.keepError(`credentials of the interrupted install not imported: ${notImported}`);
}
