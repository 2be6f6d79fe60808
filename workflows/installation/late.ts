import { FINAL_PHASES, type LifecycleEvent } from '../definitions';
import {
  keepLast,
  kindOf,
  markHandled,
  olderThanApplied,
  recordIgnored,
  trialTieLate,
  uninstallQueued,
  type InstallationState,
} from '../state';
import { apply } from './apply';
import { discardIgnoredCredentials } from './common';
import type { PhaseContext } from './context';
import { markEarlierLifeUninstall } from './earlier-life';
import { EARLIER_LIFE_INSTALL_OVER, installOfEarlierLife } from './install';
import { runLateRotation } from './rotation-late';

/**
 * Patch: an event older than one already applied is judged by its kind (rules
 * below) instead of being dropped. Histories recorded before it replay the old
 * rule (every older event ignored).
 */
export const LATE_EVENTS_BY_KIND = 'late-events-by-kind';

/**
 * Patch: an app.uninstalled older than an install applied or running (a reinstall under the same installation
 * id, the uninstall of the earlier life delivered late: a failed delivery retried, events out of order) ends
 * that earlier life: it neither interrupts the reinstall nor is applied to it (`uninstall-over`). Before it, it
 * stopped and undid the reinstall, or deprovisioned the live account and destroyed its credentials. Decided at
 * start (patches-decided-at-start-5): asked in the event handler and where a late event is taken from the queue.
 */
export const STALE_UNINSTALL_SPARES_REINSTALL = 'stale-uninstall-spares-reinstall';

/**
 * Patch: a trial event of the same second as the trial event applied, earlier than it in the lifecycle's order (a
 * `trial_started` delivered after the `trial_ended` of its second), is late: recorded, the account keeps the trial.
 * Before it, lateness compared times alone and it reopened the ended trial. Decided at start only (the sixteenth
 * generation): asked where an event is taken from the queue.
 */
export const SAME_SECOND_TRIAL_EVENT_LATE = 'same-second-trial-event-late';

export const UNINSTALL_OVER = 'uninstall older than the applied install of this installation (a reinstall): over';

/**
 * Patch: a late rotation (older than an applied one) with an uninstall queued, or once the installation ended, is not
 * acknowledged: its copy is discarded. Before it, its acknowledgement was retried for up to seven days from its event
 * ahead of the queued uninstall, which nothing interrupted, and that could expire behind it. Decided at start only.
 */
export const LATE_ROTATION_YIELDS_TO_UNINSTALL = 'late-rotation-yields-to-uninstall';

/**
 * Patch: an app.updated or app.credentials_rotated older than the applied install (of an earlier life of a same-id
 * reinstall, delivered late) is over: ignored (a rotation's copy discarded); so is a trial event of the earlier life
 * (below). Before it, a run started for the reinstall had applied no event of its kind, so it was applied in order:
 * the earlier life's user delta and subscription applied to the new account and approved blind, its trial recorded
 * on the new account. Decided at start only (patches.ts).
 */
export const EARLIER_LIFE_EVENTS_OVER = 'earlier-life-events-over';

/**
 * Patch: a run for an event after the installation finished knows its newest install and trial event from the record
 * (workflow.ts), so an older one is judged late: an earlier life's install, uninstall, update or rotation over, an older
 * trial event superseded. Before it, only the uninstall time was known: an older trial event overwrote the newer trial,
 * and an earlier life's uninstall after a reinstall that ended ran a whole uninstall again. Decided at start only.
 */
export const FINISHED_RUN_KNOWS_EVENT_TIMES = 'finished-run-knows-event-times';

/**
 * An update or rotation older than the applied install belongs to an earlier life of the installation. A trial event
 * may come with its install (Talkdesk documents no order): of an earlier life only when it ended the trial by an
 * uninstall, or the install applied is a reinstall (an uninstall applied before it) and it is no newer than that.
 */
function ofEarlierLife(state: InstallationState, event: LifecycleEvent): boolean {
  const kind = kindOf(event);
  if (!olderThanApplied(state, 'install', event)) return false;
  if (kind === 'update' || kind === 'rotation') return true;
  if (kind !== 'trial') return false;
  // Ended by an uninstall older than the install: an earlier life's, whether or not this run knows that uninstall.
  if (event.type === 'app.trial_ended' && event.facts.ended_reason === 'app_uninstalled') return true;
  const { install, uninstall } = state.appliedAt ?? {};
  if (!install || !uninstall || Date.parse(uninstall) > Date.parse(install)) return false;
  return Date.parse(event.createdAt) <= Date.parse(uninstall);
}

const EARLIER_INSTALL_OVER = 'install older than the applied install of this installation (an earlier life): over';

/** An app.uninstalled older than the install applied last or the one running now: it ended an earlier life. */
export function endsEarlierLife(state: InstallationState, running: LifecycleEvent | undefined, event: LifecycleEvent): boolean {
  if (event.type !== 'app.uninstalled') return false;
  const newerInstallRunning = running?.type === 'app.installed' && Date.parse(event.createdAt) < Date.parse(running.createdAt);
  return newerInstallRunning || olderThanApplied(state, 'install', event);
}

/**
 * What a late event is (older than the newest event applied):
 * - `install-over`: an app.installed older than an applied app.uninstalled: over, ignored;
 * - `uninstall-over`: an app.uninstalled older than an applied app.installed (a same-id reinstall): over, ignored;
 * - `rotation`: older than an applied rotation: acknowledged if Talkdesk still expects it, never switched to;
 * - `trial`: older than an applied trial event (or of its second, earlier in the lifecycle's order): recorded, the account keeps
 *   the newer trial state;
 * - `update`: older than an applied update: applied by re-reading the licensed users (a delta is not replayed);
 * - `in-order`: anything else, applied as it comes.
 */
export type LateRule = 'install-over' | 'uninstall-over' | 'rotation' | 'trial' | 'update' | 'in-order';

export function lateRule(state: InstallationState, event: LifecycleEvent, sameSecondTrial = false): LateRule {
  const kind = kindOf(event);
  if (kind === 'install') return olderThanApplied(state, 'uninstall', event) ? 'install-over' : 'in-order';
  if (kind === 'uninstall') return olderThanApplied(state, 'install', event) ? 'uninstall-over' : 'in-order';
  return olderThanApplied(state, kind, event) || (sameSecondTrial && trialTieLate(state, event)) ? kind : 'in-order';
}

/** Whether an event not older than the newest applied is late all the same (SAME_SECOND_TRIAL_EVENT_LATE). */
export function lateAtItsSecond(ctx: PhaseContext, event: LifecycleEvent): boolean {
  return trialTieLate(ctx.state, event) && ctx.patched(SAME_SECOND_TRIAL_EVENT_LATE);
}

/** The old rule: an event older than the newest applied (or ignored) one was dropped. */
export function ignoreAsSuperseded(ctx: PhaseContext, event: LifecycleEvent): void {
  recordIgnored(ctx.state, event.eventId, `${event.type} older than an event already applied`);
  markHandled(ctx.state, event.eventId);
  ctx.describe();
}

/** A decision about a late event, on the phase history, with its reason. */
async function recordDecision(ctx: PhaseContext, event: LifecycleEvent, detail: string): Promise<void> {
  const { state } = ctx;
  state.history = keepLast([
    ...state.history,
    {
      phase: state.phase,
      eventId: event.eventId,
      startedAt: event.createdAt,
      endedAt: new Date().toISOString(),
      result: 'superseded',
      detail,
      outcome: detail,
    },
  ]);
  markHandled(state, event.eventId);
  ctx.publish();
  await ctx.recordPhase();
}

/**
 * An event older than the newest one applied (Talkdesk retries after 5 and 10
 * minutes, the dispatcher backs off): handled by the rule of its kind. Returns
 * false when the old rule applies (histories from before the patch).
 */
export async function handleLate(ctx: PhaseContext, event: LifecycleEvent): Promise<boolean> {
  if (!ctx.patched(LATE_EVENTS_BY_KIND)) return false;
  if (ofEarlierLife(ctx.state, event) && ctx.patched(EARLIER_LIFE_EVENTS_OVER)) {
    if (event.type === 'app.credentials_rotated') await discardIgnoredCredentials(ctx, event);
    const why = `${event.type} of an earlier life of this installation (older than the applied reinstall): over`;
    recordIgnored(ctx.state, event.eventId, why);
    await recordDecision(ctx, event, `${why}, ignored`);
    return true;
  }
  const rule = lateRule(ctx.state, event, ctx.patched(SAME_SECOND_TRIAL_EVENT_LATE));
  if (rule === 'in-order' && installOfEarlierLife(ctx.state, event) && ctx.patched(EARLIER_LIFE_INSTALL_OVER)) {
    await discardIgnoredCredentials(ctx, event);
    recordIgnored(ctx.state, event.eventId, EARLIER_INSTALL_OVER);
    await recordDecision(ctx, event, `${EARLIER_INSTALL_OVER}, ignored; its credentials discarded`);
    return true;
  }
  switch (rule) {
    case 'install-over':
      await discardIgnoredCredentials(ctx, event);
      recordIgnored(ctx.state, event.eventId, 'install older than the applied uninstall of this installation: over');
      await recordDecision(ctx, event, 'install older than the applied uninstall: ignored');
      return true;
    case 'uninstall-over':
      if (!ctx.patched(STALE_UNINSTALL_SPARES_REINSTALL)) break;
      recordIgnored(ctx.state, event.eventId, UNINSTALL_OVER);
      markEarlierLifeUninstall(ctx, event);
      await recordDecision(ctx, event, 'uninstall older than the applied install (a reinstall): ignored, the installation is kept');
      return true;
    case 'trial': {
      const late = olderThanApplied(ctx.state, 'trial', event)
        ? 'older than an applied trial event'
        : "of an applied trial event's second, earlier in the lifecycle's order";
      recordIgnored(ctx.state, event.eventId, `${event.type} ${late}: the account keeps the newer trial`);
      await recordDecision(ctx, event, `${event.type} ${late}: recorded, the account keeps the newer trial`);
      return true;
    }
    case 'rotation':
      if (event.type !== 'app.credentials_rotated') break;
      if ((uninstallQueued(ctx.state) || FINAL_PHASES.includes(ctx.state.phase)) && ctx.patched(LATE_ROTATION_YIELDS_TO_UNINSTALL)) {
        await discardIgnoredCredentials(ctx, event);
        const why = uninstallQueued(ctx.state) ? 'an uninstall is queued' : `the installation is ${ctx.state.phase}`;
        recordIgnored(ctx.state, event.eventId, `rotation older than an applied rotation: not acknowledged, ${why}`);
        await recordDecision(ctx, event, `rotation older than an applied rotation: not acknowledged (${why}); its credentials discarded`);
        return true;
      }
      await recordDecision(ctx, event, await runLateRotation(ctx, event));
      return true;
    case 'update':
      await apply(ctx, event, { late: true });
      return true;
    case 'in-order':
      break;
  }
  await apply(ctx, event);
  return true;
}
