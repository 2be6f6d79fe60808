import type { LifecycleEventOf } from '../definitions';
import { markHandled, olderThanApplied, recordIgnored } from '../state';
import { deprovisionAccount, destroyCredentials, takeLinks } from './common';
import { NOT_OPEN_AT_TALKDESK, type PhaseContext, type PhaseEnd } from './context';
import { StepFailedError } from '../steps';
import { adoptForUninstall, adoptsForUninstall } from './rotation';

/**
 * Patch: a rotation delivered while the uninstall runs (queued behind it), older than it and one an uninstall adopts
 * (compromised, or routine past Talkdesk's grace), gives the acknowledgement its set, as one queued before the uninstall
 * began does (apply.ts): Talkdesk revoked the old set when it rotated. Before it, the acknowledgement went with the
 * revoked set and failed for good, Talkdesk never told. Decided at start only (patches.ts, the twelfth generation).
 */
export const UNINSTALL_ADOPTS_ROTATION_QUEUED_MEANWHILE = 'uninstall-adopts-rotation-queued-meanwhile';

/**
 * Patch: a rotation older than the uninstall (one an uninstall adopts, of this life: not older than its install)
 * delivered while the uninstall's acknowledgement runs or waits to retry is adopted once that call ends, and the
 * acknowledgement is sent again with its set. Before it, the call with the set the rotation revoked failed for good
 * (`invalid_client`: the uninstall ended `failed`), or, on a retry, took it for Talkdesk's revocation after an earlier
 * attempt landed (`acknowledged`): Talkdesk never told. Not one newer than the uninstall: that may be a same-id
 * reinstall's, delivered before its install (its set must not be taken and destroyed). Asked once per run, the first
 * time such a rotation is found queued as an acknowledgement ends: a run that never has one records no marker.
 */
export const UNINSTALL_ADOPTS_ROTATION_DURING_ACKNOWLEDGEMENT = 'uninstall-adopts-rotation-during-acknowledgement';

/** The newest rotation queued now, older than the uninstall, that it may adopt. */
function rotationToAdopt(ctx: PhaseContext, uninstall: LifecycleEventOf<'app.uninstalled'>) {
  const { state } = ctx;
  // Not one of an earlier life of a same-id reinstall (older than the applied install, or than an uninstall known to
  // have ended that life: a reinstall skipped for this uninstall is never applied): over, its set revoked.
  const rotations = state.queue.filter(
    (e): e is LifecycleEventOf<'app.credentials_rotated'> =>
      e.type === 'app.credentials_rotated' &&
      Date.parse(e.createdAt) <= Date.parse(uninstall.createdAt) &&
      !olderThanApplied(state, 'install', e) &&
      !olderThanApplied(state, 'uninstall', e),
  );
  // Newest first: once one is adopted, the older ones are older than an applied rotation (never adopted over it).
  return rotations.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)).find((r) => adoptsForUninstall(ctx, r));
}

/** Takes `rotation` out of the queue and adopts it for the uninstall; handled, recorded as ignored. Whether it was imported. */
async function adoptQueuedRotation(ctx: PhaseContext, rotation: LifecycleEventOf<'app.credentials_rotated'>): Promise<boolean> {
  const { state } = ctx;
  // Taken from the queue once adopted: a run continued as new in the import's backoff carries it queued, and adopts it again.
  const { adopted, why } = await adoptForUninstall(ctx, rotation);
  state.queue = state.queue.filter((e) => e !== rotation);
  recordIgnored(state, rotation.eventId, `rotation superseded by the running uninstall; ${why}`);
  markHandled(state, rotation.eventId);
  return adopted;
}

/** The newest rotation queued now older than the uninstall, adopted (UNINSTALL_ADOPTS_ROTATION_QUEUED_MEANWHILE). */
async function adoptRotationQueuedMeanwhile(ctx: PhaseContext, uninstall: LifecycleEventOf<'app.uninstalled'>): Promise<void> {
  const rotation = rotationToAdopt(ctx, uninstall);
  if (rotation) await adoptQueuedRotation(ctx, rotation);
}

/**
 * Whether a rotation delivered during the acknowledgement was adopted, its set imported as the active one
 * (UNINSTALL_ADOPTS_ROTATION_DURING_ACKNOWLEDGEMENT): only then is the acknowledgement sent again.
 */
async function adoptedDuringAcknowledgement(ctx: PhaseContext, uninstall: LifecycleEventOf<'app.uninstalled'>): Promise<boolean> {
  const rotation = rotationToAdopt(ctx, uninstall);
  if (!rotation) return false;
  ctx.run.adoptsDuringAcknowledgement ??= ctx.patched(UNINSTALL_ADOPTS_ROTATION_DURING_ACKNOWLEDGEMENT);
  if (!ctx.run.adoptsDuringAcknowledgement) return false;
  return adoptQueuedRotation(ctx, rotation);
}

/**
 * The acknowledgement, sent again with the set of a rotation delivered meanwhile (patch above). The second call reads
 * Talkdesk first, as every uninstall's does: an acknowledgement that had landed all the same is not sent twice. When
 * it fails, what the first call concluded stands (as it did before the patch); when the first failed, the second's
 * failure is the phase's.
 */
async function acknowledge(ctx: PhaseContext, uninstall: LifecycleEventOf<'app.uninstalled'>): Promise<void> {
  // Sent by the run before a continue-as-new cut (ResumePoint.ackBegun), or by a lost run reconciliation resumed: its
  // call may have concluded the uninstall, so this run's calls are judged as sent again (`resent`). Input only: no patch.
  if (ctx.run.ackBegunFor === uninstall.eventId) ctx.run.uninstallAckSentFor = uninstall.eventId;
  const call = () => ctx.stateCall('acknowledge the uninstall at Talkdesk', { state: 'approve', concludes: 'uninstall' });
  // The call's own outcomes only: a cancellation (the phase stopped) or a continue-as-new cut in its backoff goes on up.
  const concluded = (err: unknown) => err instanceof StepFailedError; // NotOpenError (not sent) among them
  try {
    await call();
  } catch (err) {
    if (!concluded(err) || !(await adoptedDuringAcknowledgement(ctx, uninstall))) throw err;
    await call();
    return;
  }
  // Concluded: a cut in the adoption's import below carries that (a call that failed, or sent nothing, is not carried).
  ctx.run.ackBegunFor = uninstall.eventId;
  if (!(await adoptedDuringAcknowledgement(ctx, uninstall))) return;
  await call().catch((err: unknown) => {
    if (!concluded(err)) throw err;
  });
}

/**
 * app.uninstalled: deprovision and acknowledge at Talkdesk. It always ends
 * uninstalled: Talkdesk deprovisions an unacknowledged uninstall after seven days, so do we.
 */
export async function runUninstall(ctx: PhaseContext, event: LifecycleEventOf<'app.uninstalled'>): Promise<void> {
  const { state } = ctx;
  takeLinks(ctx, event);
  const deadline = await ctx.beginPhase('uninstalling', event);
  // A lost run's uninstall resumed by reconciliation (its call may have landed): so judged for this event only, and
  // carried across a cut before the acknowledgement too; a later life's uninstall in this run was never begun by it.
  // (By the record's phaseEventId, else the first uninstall this run applies: records written before that field.)
  if (ctx.run.resumedUninstalling) {
    ctx.run.resumedUninstalling = false;
    ctx.run.uninstallAckSentFor = event.eventId;
  }
  if (ctx.run.uninstallAckSentFor === event.eventId) ctx.run.ackBegunFor = event.eventId;
  const outcome = await ctx.phases.run(deadline, async () => {
    await deprovisionAccount(ctx, event);
    if (ctx.patched(UNINSTALL_ADOPTS_ROTATION_QUEUED_MEANWHILE)) await adoptRotationQueuedMeanwhile(ctx, event);
    if (ctx.canCallTalkdesk()) await acknowledge(ctx, event);
  });
  let end: PhaseEnd = ctx.canCallTalkdesk()
    ? { result: 'acknowledged', outcome: 'acknowledged' }
    : {
        result: 'deprovisioned',
        detail: 'no credentials were ever received',
        outcome: 'no credentials were ever received: deprovisioned locally',
      };
  if (outcome.kind !== 'done') {
    await deprovisionAccount(ctx, event);
    if (outcome.kind === 'expired') {
      end = { result: 'expired', outcome: 'not acknowledged within seven days: deprovisioned locally' };
    } else {
      const why = outcome.kind === 'failed' ? outcome.error.message : outcome.reason;
      const notOpen = outcome.kind === 'failed' && outcome.error.failureType === NOT_OPEN_AT_TALKDESK;
      end = {
        result: notOpen ? 'not-open' : outcome.kind,
        detail: why,
        // Stopped (reconciliation found Talkdesk's `revoked`, an operator): no acknowledgement failed for good.
        outcome:
          outcome.kind === 'interrupted'
            ? `stopped (${why}) before its acknowledgement landed: deprovisioned locally`
            : `acknowledgement failed (${why}): deprovisioned locally`,
      };
    }
  }
  await destroyCredentials(ctx);
  state.activeClientId = undefined;
  await ctx.endPhase('uninstalled', end);
}
