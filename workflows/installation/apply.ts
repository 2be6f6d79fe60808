import { FINAL_PHASES, type LifecycleEvent } from '../definitions';
import { kindOf, markApplied, markHandled, markKindApplied, noteTrialType, recordIgnored, uninstallQueued } from '../state';
import { adoptOrWhyNot, discardIgnoredCredentials } from './common';
import type { PhaseContext } from './context';
import { SKIPPED_INSTALL_BEGINS_ITS_LIFE, uninstallOfTheEnd } from './earlier-life';
import { runInstall } from './install';
import { adoptForUninstall, adoptsForUninstall, runRotation } from './rotation';
import { nextTrial, runTrial } from './trial';
import { runUninstall } from './uninstall';
import { runUpdate } from './update';

/** Patch: a trial event with an uninstall queued behind it is ignored (decided at start only, patches.ts). */
export const TRIAL_SUPERSEDED_BY_QUEUED_UNINSTALL = 'trial-superseded-by-queued-uninstall';

/**
 * Applies the event at the head of the queue, and marks it handled. `late`: an
 * update older than one applied (see late.ts), applied from Talkdesk's users.
 */
export async function apply(ctx: PhaseContext, event: LifecycleEvent, opts: { late?: boolean; resumed?: boolean } = {}): Promise<void> {
  const late = opts.late === true;
  markApplied(ctx.state, event);
  ctx.run.handledThisRun += 1;
  // What a continue-as-new in the middle of this event's phase hands over (workflow.ts).
  ctx.run.applying = { event, late };
  ctx.phases.beginEvent();
  // Counted once done (so the state query never shows it applied while it runs), and not when ignored.
  const applied = opts.resumed ? await reenterPhase(ctx, event, late) : await applyEvent(ctx, event, late);
  ctx.run.applying = undefined;
  ctx.run.resumedEventId = undefined;
  ctx.phases.endEvent();
  ctx.steps.resume(undefined);
  if (applied) {
    ctx.state.appliedEvents += 1;
    // Only applied events make older ones of their kind late; ignored ones never do.
    noteTrialType(ctx.state, event);
    markKindApplied(ctx.state, kindOf(event), event.createdAt);
  }
  markHandled(ctx.state, event.eventId);
}

/**
 * The phase a previous run cut by continue-as-new, entered again from its start: every
 * step is idempotent, so what it did is found done. The checks `applyEvent` made when
 * the phase began are not made again: the phase is under way.
 */
async function reenterPhase(ctx: PhaseContext, event: LifecycleEvent, late: boolean): Promise<boolean> {
  switch (event.type) {
    case 'app.installed':
      await runInstall(ctx, event);
      return true;
    case 'app.updated':
      await runUpdate(ctx, event, late);
      return true;
    case 'app.credentials_rotated':
      await runRotation(ctx, event);
      return true;
    case 'app.uninstalled':
      await runUninstall(ctx, event);
      return true;
    default:
      return applyEvent(ctx, event, late);
  }
}

/** Applies one event; false when it was recorded as ignored instead. */
async function applyEvent(ctx: PhaseContext, event: LifecycleEvent, late: boolean): Promise<boolean> {
  const { state } = ctx;
  const ignore = (reason: string) => {
    recordIgnored(state, event.eventId, reason);
    return false;
  };
  switch (event.type) {
    case 'app.installed':
      if (uninstallQueued(state)) {
        // Keep the credentials: the queued uninstall must still be acknowledged with them (without them it is
        // deprovisioned locally).
        const notImported = await adoptOrWhyNot(ctx, event, 'import the credentials from the event');
        if (ctx.patched(SKIPPED_INSTALL_BEGINS_ITS_LIFE)) markKindApplied(state, 'install', event.createdAt);
        if (notImported !== undefined) {
          return ignore(`install superseded by a queued uninstall; its credentials could not be imported: ${notImported}`);
        }
        return ignore('install superseded by a queued uninstall');
      }
      await runInstall(ctx, event);
      return true;
    case 'app.updated':
      if (uninstallQueued(state)) return ignore('update superseded by a queued uninstall');
      if (state.phase !== 'active') return ignore(`update ignored: installation is ${state.phase}`);
      await runUpdate(ctx, event, late);
      return true;
    case 'app.credentials_rotated':
      if (uninstallQueued(state)) {
        if (!adoptsForUninstall(ctx, event)) return ignore('rotation superseded by a queued uninstall');
        return ignore(`rotation superseded by a queued uninstall; ${(await adoptForUninstall(ctx, event)).why}`);
      }
      if (FINAL_PHASES.includes(state.phase) || state.phase === 'new') {
        // Over for good once the installation ended; before its install (`new`) the copy is kept.
        if (state.phase !== 'new') await discardIgnoredCredentials(ctx, event);
        return ignore(`rotation ignored: installation is ${state.phase}`);
      }
      await runRotation(ctx, event);
      return true;
    case 'app.trial_started':
    case 'app.trial_extended':
    case 'app.trial_ended':
      // Queued ahead of the uninstall (the same second: a trial end sorts first), its record would run first, and a
      // partner down for days would make the uninstall expire behind it (nothing interrupts a phase with it queued).
      if (uninstallQueued(state) && ctx.patched(TRIAL_SUPERSEDED_BY_QUEUED_UNINSTALL)) {
        // Not recorded at the partner, but kept on the installation (its view), as a trial record given up is.
        state.trial = nextTrial(state.trial, event);
        return ignore(`${event.type} superseded by a queued uninstall`);
      }
      await runTrial(ctx, event);
      return true;
    case 'app.uninstalled': {
      const over = uninstallOfTheEnd(ctx, event);
      if (over !== undefined) return ignore(over);
      await runUninstall(ctx, event);
      return true;
    }
  }
}
