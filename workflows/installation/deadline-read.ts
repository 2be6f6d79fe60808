import type { LifecycleEvent } from '../definitions';
import type { PhaseContext, PhaseEnd } from './context';
import { newerOperationQueued } from '../state';
import { approvalMayHaveLanded } from './common';
import { updateInView } from './run-state';

/**
 * Patch: an install or update that reaches its deadline after its approval may have landed (an attempt's answer lost,
 * Talkdesk unreachable for every retry's read since) reads Talkdesk once more, for up to half the margin left of its
 * seven days, before it is undone: one Talkdesk shows concluded is kept. Before it, it was undone unread, and Talkdesk
 * kept an installation (or update) the partner's account no longer had. Decided at start only (patches.ts).
 */
export const EXPIRED_PHASE_READS_TALKDESK_LAST = 'expired-phase-reads-talkdesk-last';

/**
 * Patch: an operator's reject of an update whose approval may have landed (operator.ts) whose own run, bounded by the
 * update's deadline, ends without an answer from Talkdesk (its read kept failing, or it began at the deadline) reads
 * Talkdesk once more as an expired update does, instead of reverting unread an update Talkdesk may show completed.
 * Decided at start only (patches-decided-at-start-15).
 */
export const OPERATOR_REJECT_OF_UPDATE_READS_AT_DEADLINE = 'operator-reject-of-update-reads-at-deadline';

/**
 * Patch: the same for an operator's reject of an install whose approval may have landed, whose own seven days (from the
 * reject) pass with no answer from Talkdesk: read once more before the provisioning is undone and the credentials
 * destroyed; an install Talkdesk shows concluded is kept. Decided at start only (patches-decided-at-start-15).
 */
export const OPERATOR_REJECT_OF_INSTALL_READS_AT_DEADLINE = 'operator-reject-of-install-reads-at-deadline';

/** Whether Talkdesk shows the expired phase's operation concluded (patch above); read only when its approval may have landed. */
export async function concludedAtDeadline(
  ctx: PhaseContext,
  event: LifecycleEvent,
  deadline: number,
  concludes: 'install' | 'update',
): Promise<boolean> {
  if (!approvalMayHaveLanded(ctx, event) || !ctx.patched(EXPIRED_PHASE_READS_TALKDESK_LAST)) return false;
  return readsConcludedAtDeadline(ctx, deadline, concludes);
}

/**
 * The last read itself: Talkdesk's state of the installation, for up to half the margin past `deadline`; true when it
 * shows the operation concluded. An uninstall may still stop it (undone as before); an operator's reject is refused
 * meanwhile (handlers.ts).
 */
export async function readsConcludedAtDeadline(ctx: PhaseContext, deadline: number, concludes: 'install' | 'update'): Promise<boolean> {
  ctx.run.readingAtDeadline = true;
  const read = await ctx.phases
    .run(
      deadline + ctx.options.phaseMarginMs / 2,
      () =>
        ctx.step(
          `read Talkdesk at the ${concludes}'s deadline`,
          ctx.acts.readInstallationState,
          () => {
            // Judged at each attempt. A newer operation delivered behind the update: Talkdesk opened it once the update
            // concluded (its approval landed), so `pending` is the newer one's (activity input only).
            const late = concludes === 'update' && newerOperationQueued(ctx.state, updateInView(ctx.run));
            return { ...ctx.talkdeskRef(), concludes, ...(late ? { late } : {}) };
          },
          ctx.withHeartbeat,
        ),
      "the last read's half of the margin",
    )
    .finally(() => {
      ctx.run.readingAtDeadline = undefined;
    });
  return read.kind === 'done' && read.value.alreadyConcluded === true;
}

/** How a phase kept by that read ends. */
export const keptAtDeadline = (what: 'install' | 'update'): PhaseEnd => ({
  result: 'approved',
  detail: `Talkdesk shows the ${what} concluded: its approval landed, the answer lost`,
  outcome: `${what === 'install' ? 'approved' : 'update approved'} at Talkdesk, found by a last read at the deadline; kept`,
});
