import { FINAL_PHASES, type LifecycleEventOf, type PhaseRecord } from '../definitions';
import { keepLast, markHandled, markKindApplied, olderThanApplied, recordIgnored, uninstallQueued } from '../state';
import { CREDENTIALS_MISSING, CREDENTIALS_REFUSED } from '../activity-types';
import { StepFailedError } from '../steps';
import { adoptOrWhyNot, takeLinks } from './common';
import { newLifeSkippedInstall } from './earlier-life';
import type { PhaseContext } from './context';
import { COMPROMISED_ROTATION_DESTROYS_RETIRING_SETS, destroyRevokedRetiring } from './rotation-late';

/** The step after the acknowledgement: a rotation cut there by continue-as-new had it sent. */
const SWITCH_STEP = 'switch to the new credentials';

/**
 * Patch: an uninstall that supersedes a compromised rotation (queued behind it, or interrupting it)
 * is acknowledged with the rotation's set. Before it, the new set was dropped and the uninstall sent
 * with the old one, which Talkdesk revoked when it rotated: refused, never acknowledged.
 */
export const UNINSTALL_ADOPTS_COMPROMISED_ROTATION = 'uninstall-adopts-compromised-rotation';

/**
 * Patch: a routine rotation's old set retires when Talkdesk's grace ends, counted from the rotation
 * (the event), not from our switch, which can come days later (queued, retried).
 */
export const ROTATION_GRACE_FROM_EVENT = 'rotation-grace-from-event';

/**
 * Patch: a rotation handled after its seven days (queued behind a long outage, a lost workflow resumed late)
 * still imports and proves its new set, which the keep-proven-set patches then switch to: the old set's grace
 * is over (a compromised one has none), so it is the only set that works. Before it, nothing of the rotation ran
 * and the installation kept credentials Talkdesk no longer accepts. Decided at start (patches-decided-at-start-5):
 * asked right after whatever ended before the rotation began, perhaps a local activity.
 */
export const ROTATION_IMPORTED_AFTER_ITS_DEADLINE = 'rotation-imported-after-its-deadline';

/**
 * Patch: a rotation re-entered past its deadline (carried over by continue-as-new, its next run's first task after the
 * deadline) with an uninstall queued (signalled in that first task: its interrupt, kept for the re-entry, is lost to
 * the expired deadline) is not imported late: it ends as the uninstall's interruption, which may adopt its set.
 * Before it, the late import ran and the uninstall waited behind its retries for up to seven days. Decided at start
 * only (patches.ts, the eleventh generation).
 */
export const EXPIRED_ROTATION_YIELDS_TO_QUEUED_UNINSTALL = 'expired-rotation-yields-to-queued-uninstall';

function adoptedWhy(ctx: PhaseContext, event: LifecycleEventOf<'app.credentials_rotated'>): string {
  const { compromised } = event.facts;
  const withinGrace = Date.now() < Date.parse(event.createdAt) + ctx.options.rotationGraceMs;
  const why =
    compromised === true
      ? 'the old set was compromised'
      : compromised === undefined && withinGrace
        ? 'no compromised flag: the old set may be revoked'
        : "past Talkdesk's grace: the old set no longer works";
  return `its credentials acknowledge the uninstall (${why})`;
}

/**
 * Patch: a compromised rotation whose new set got a token but whose acknowledgement failed for good
 * or never landed within its seven days switches to the new set all the same: the old one is
 * revoked. Before it, the new set was destroyed and the revoked one kept.
 */
export const COMPROMISED_ROTATION_KEEPS_PROVEN_SET = 'compromised-rotation-keeps-proven-set';

/**
 * Patch: the same for a routine rotation: its new set is switched to and the old one retires when
 * Talkdesk's grace ends, counted from the event, as after an acknowledged rotation. Before it, the new set
 * was destroyed and the old one kept, which Talkdesk stops accepting when its grace ends: the
 * installation was left with no working credentials. Asked where it stands (after the failed
 * acknowledgement, a server activity, or the deadline timer).
 */
export const ROUTINE_ROTATION_KEEPS_PROVEN_SET = 'routine-rotation-keeps-proven-set';

/**
 * Patch: a routine rotation an uninstall supersedes gives the uninstall its credentials too once Talkdesk's grace from
 * its event has ended (only the new set works then), and a rotation adopted so counts as applied: an older one met
 * after it is not adopted over it. Before it, the routine one was dropped: the acknowledgement with the old set failed,
 * deprovisioned here only, Talkdesk never told. Decided at start only (patches.ts).
 */
export const UNINSTALL_ADOPTS_ROUTINE_ROTATION = 'uninstall-adopts-routine-rotation';

/**
 * Patch: a rotation whose event carries no `compromised` flag (Talkdesk documents none: the flag is this service's
 * assumption) gives a superseding uninstall its set within the grace too. Before it, one without the flag counted as
 * routine, the old set kept for the acknowledgement, which Talkdesk refuses for good when the rotation was in fact a
 * compromised one (no grace). Decided at start only (patches.ts, the thirteenth generation).
 */
export const UNFLAGGED_ROTATION_ADOPTED_FOR_UNINSTALL = 'unflagged-rotation-adopted-for-uninstall';

/**
 * Whether a rotation that an uninstall supersedes gives the uninstall its credentials: a compromised one (and, under
 * UNINSTALL_ADOPTS_ROUTINE_ROTATION, a routine one past its grace; neither older than one applied or adopted), when the installation holds a set (also an install superseded by the uninstall, whose phase stays `new`). Its patches are asked right after a
 * local activity (a phase's record, the rotation's import): decided by their generations' markers alone
 * (patches.ts, ONLY_DECIDED_AT_START).
 */
export function adoptsForUninstall(ctx: PhaseContext, event: LifecycleEventOf<'app.credentials_rotated'>): boolean {
  const { phase, activeClientId } = ctx.state;
  // A final phase holds a set only for an install skipped for its uninstall: in one ended earlier, a new life's.
  if (activeClientId === undefined || (FINAL_PHASES.includes(phase) && !newLifeSkippedInstall(ctx))) return false;
  const compromised = event.facts.compromised === true;
  if (!ctx.patched(UNINSTALL_ADOPTS_ROUTINE_ROTATION)) return compromised && ctx.patched(UNINSTALL_ADOPTS_COMPROMISED_ROTATION);
  // Never a set older than one applied or adopted: its import would replace the newer set, the one Talkdesk keeps.
  if (olderThanApplied(ctx.state, 'rotation', event)) return false;
  if (compromised) return ctx.patched(UNINSTALL_ADOPTS_COMPROMISED_ROTATION);
  if (Date.now() >= Date.parse(event.createdAt) + ctx.options.rotationGraceMs) return true;
  // Talkdesk documents no such flag: a rotation without it may be a compromised one, the old set revoked. The new set is
  // the one Talkdesk keeps either way.
  return event.facts.compromised === undefined && ctx.patched(UNFLAGGED_ROTATION_ADOPTED_FOR_UNINSTALL);
}

/**
 * Imports a compromised rotation's set (or a routine one's) as the active one (every other set destroyed: the old
 * one is revoked, or retiring), for the uninstall that supersedes it. Never acknowledged as a rotation: the uninstall
 * ends the installation. When the set cannot be imported the uninstall goes on with what it has, as before
 * the patch. `why`: how it went, for the rotation's ignored entry.
 */
export async function adoptForUninstall(
  ctx: PhaseContext,
  event: LifecycleEventOf<'app.credentials_rotated'>,
): Promise<{ adopted: boolean; why: string }> {
  const step =
    event.facts.compromised === true
      ? "import the compromised rotation's credentials for the uninstall"
      : "import the rotation's credentials for the uninstall";
  const notImported = await adoptOrWhyNot(ctx, event, step);
  if (notImported !== undefined) return { adopted: false, why: `its credentials could not be imported: ${notImported}` };
  ctx.state.retiring = [];
  if (ctx.patched(UNINSTALL_ADOPTS_ROUTINE_ROTATION)) markKindApplied(ctx.state, 'rotation', event.createdAt);
  return { adopted: true, why: adoptedWhy(ctx, event) };
}

/**
 * app.credentials_rotated: import the new set, prove it, acknowledge it at
 * Talkdesk, then switch to it. The old set retires after the grace period, or at
 * once when compromised. Not a phase: the installation stays in its phase.
 */
export async function runRotation(ctx: PhaseContext, event: LifecycleEventOf<'app.credentials_rotated'>): Promise<void> {
  const { state, acts, installationId, options } = ctx;
  const compromised = event.facts.compromised === true;
  const previous = state.activeClientId;
  takeLinks(ctx, event);
  const deadline = Date.parse(event.createdAt) + options.phaseTimeoutMs;
  /**
   * Makes `clientId` the active set; the previous one is destroyed now when compromised, else it retires
   * when Talkdesk's grace from `graceFrom` ends.
   */
  const switchTo = async (clientId: string, graceFrom: number) => {
    const retireAt = new Date(compromised ? Date.now() : Math.max(Date.now(), graceFrom + options.rotationGraceMs)).toISOString();
    await ctx.storeStep(SWITCH_STEP, 'switchCredentials', {
      installationId,
      clientId,
      previousClientId: previous,
      retireAt,
      destroyPreviousNow: compromised,
    });
    state.activeClientId = clientId;
    if (previous && previous !== clientId && !compromised) state.retiring = [...state.retiring, { clientId: previous, retireAt }];
  };
  /**
   * Once switched to a compromised rotation's set, the retiring sets issued before it (revoked by Talkdesk) destroyed.
   * After the phase's outcome, outside its scope: nothing can then stop the rotation once its switch has landed.
   */
  const destroyRevoked = async () => {
    if (compromised && state.retiring.length > 0 && ctx.patched(COMPROMISED_ROTATION_DESTROYS_RETIRING_SETS)) {
      await destroyRevokedRetiring(ctx, event);
    }
  };
  let newClientId: string | undefined;
  let proven = false;
  const importAndProve = async () => {
    const creds = await ctx.storeStep('import the rotated credentials', 'importCredentials', {
      installationId,
      eventId: event.eventId,
      activate: false,
    });
    newClientId = creds.clientId;
    await ctx.step('prove the new credentials by getting a token', acts.obtainToken, { installationId, clientId: creds.clientId });
    proven = true;
    return creds;
  };
  let outcome = await ctx.phases.run(deadline, async () => {
    const creds = await importAndProve();
    // Sent before when retried (a cut during its backoff carries its attempts), when the rotation is
    // re-entered after a cut past it (at the switch), or when an earlier run imported the set (a lost
    // workflow resumed by reconciliation): a 409 then means it landed.
    const cutAfterAck = ctx.run.resumedEventId === event.eventId && ctx.steps.resumedStep === SWITCH_STEP;
    // Not a re-entry after continue-as-new: `cutAfterAck` says exactly whether that run had sent it.
    const importedBefore = creds.alreadyImported === true && ctx.run.resumedEventId !== event.eventId;
    // Sent by a run this one re-entered from, even when a later cut came at another step (the token's): the cut carries it.
    const sentByEarlierRun = ctx.run.ackBegunFor === event.eventId;
    ctx.run.ackBegunFor = event.eventId;
    await ctx.step('acknowledge the rotation at Talkdesk', acts.acknowledgeCredentials, (attempt) => ({
      ...ctx.talkdeskRef(),
      clientId: creds.clientId,
      resent: attempt > 1 || cutAfterAck || importedBefore || sentByEarlierRun,
    }));
    const graceFrom = ctx.patched(ROTATION_GRACE_FROM_EVENT) ? Math.min(Date.now(), Date.parse(event.createdAt)) : Date.now();
    await switchTo(creds.clientId, graceFrom);
  });
  if (outcome.kind === 'expired' && newClientId === undefined && ctx.patched(ROTATION_IMPORTED_AFTER_ITS_DEADLINE)) {
    if (uninstallQueued(state) && ctx.patched(EXPIRED_ROTATION_YIELDS_TO_QUEUED_UNINSTALL)) {
      outcome = { kind: 'interrupted', reason: 'uninstall' };
    } else {
      // Past its seven days before it began: imported and proven all the same (seven days more for that), not
      // acknowledged. Done, it stays `expired` and the proven set is switched to below; else this attempt's end counts.
      const late = await ctx.phases.run(Date.now() + options.phaseTimeoutMs, importAndProve);
      if (late.kind !== 'done') outcome = late;
    }
  }
  state.currentStep = undefined;
  if (outcome.kind === 'done') {
    await destroyRevoked();
    state.history = keepLast([
      ...state.history,
      {
        phase: state.phase,
        eventId: event.eventId,
        startedAt: event.createdAt,
        endedAt: new Date().toISOString(),
        result: 'rotated',
        ...(compromised
          ? { detail: 'compromised', outcome: 'credentials rotated (compromised: old set destroyed at once)' }
          : { outcome: 'credentials rotated' }),
      },
    ]);
  } else {
    const byUninstall = outcome.kind === 'interrupted' && outcome.reason === 'uninstall';
    const adoption = byUninstall && adoptsForUninstall(ctx, event) ? await adoptForUninstall(ctx, event) : undefined;
    // Not when Talkdesk refused the new set itself since it got its token, nor when the switch found the set gone here
    // (destroyed meanwhile; switching again failed the workflow). Only the switch step: before, switchCredentials never
    // failed that way (no open history took this path), while another step's CredentialsMissing (the acknowledgement's
    // token) did ask the patch, and still does.
    const gone = outcome.kind === 'failed' && outcome.error.failureType === CREDENTIALS_MISSING && outcome.error.step === SWITCH_STEP;
    const setRefused = outcome.kind === 'failed' && (CREDENTIALS_REFUSED.includes(outcome.error.failureType) || gone);
    // Asked only where the old code asked it (compromised), or for a routine rotation in the same case.
    let keepNew =
      proven &&
      !setRefused &&
      (outcome.kind === 'failed' || outcome.kind === 'expired') &&
      ctx.patched(compromised ? COMPROMISED_ROTATION_KEEPS_PROVEN_SET : ROUTINE_ROTATION_KEEPS_PROVEN_SET);
    if (keepNew && newClientId !== undefined) {
      // The set destroyed since it was proven: switchCredentials now refuses it (before, it switched to a dead set). A
      // catch adds no command; the old set stays.
      keepNew = await switchTo(newClientId, Math.min(Date.now(), Date.parse(event.createdAt))).then(
        () => true,
        (err: unknown) => {
          if (err instanceof StepFailedError && err.failureType === CREDENTIALS_MISSING) return false;
          throw err;
        },
      );
      if (keepNew) await destroyRevoked();
    }
    const kept = !keepNew
      ? 'the current credentials are kept'
      : compromised
        ? 'the new credentials are used all the same (the old set was compromised), unacknowledged'
        : "the new credentials are used all the same (they got a token), unacknowledged; the old set retires when Talkdesk's grace ends";
    const dropped = newClientId !== undefined && newClientId !== state.activeClientId;
    if (dropped) {
      await ctx.storeStep('destroy the unproven rotated credentials', 'destroyCredentials', { installationId, clientId: newClientId });
    }
    if (adoption) recordIgnored(state, event.eventId, `rotation interrupted by the uninstall; ${adoption.why}`);
    else if (dropped) recordIgnored(state, event.eventId, `rotation not completed (${outcome.kind})`);
    // Kept in the history (and lastError, below) like a phase's end: the failure's message is the
    // one place that says why (a refused token, a 4xx acknowledgement).
    const end: Pick<PhaseRecord, 'result' | 'detail' | 'outcome'> =
      outcome.kind === 'failed'
        ? {
            result: 'failed',
            detail: outcome.error.message,
            outcome: `rotation failed: ${outcome.error.message}; ${kept}`,
          }
        : outcome.kind === 'expired'
          ? { result: 'expired', outcome: `rotation not completed within seven days; ${kept}` }
          : {
              result: 'interrupted',
              detail: outcome.reason,
              outcome: `rotation interrupted by ${outcome.reason}${adoption?.adopted ? `; ${adoptedWhy(ctx, event)}` : ''}`,
            };
    state.history = keepLast([
      ...state.history,
      { phase: state.phase, eventId: event.eventId, startedAt: event.createdAt, endedAt: new Date().toISOString(), ...end },
    ]);
  }
  markHandled(state, event.eventId);
  ctx.publish();
  await ctx.recordPhase();
  // After the steps above, whose success clears it: kept visible (state query, current details) until the next step.
  if (outcome.kind === 'failed') ctx.keepError(`rotation failed: ${outcome.error.message}`);
}
