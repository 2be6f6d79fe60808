import { condition } from '@temporalio/workflow';
import { FINAL_PHASES, type LifecycleEvent, type LifecycleEventOf } from '../definitions';
import { keepLast, olderThanApplied, type InstallationState } from '../state';
import { partnerEvent } from './common';
import type { PhaseContext } from './context';
import { EARLIER_LIFE_INSTALL_OVER, installOfEarlierLife } from './install';

type TrialEvent = LifecycleEventOf<'app.trial_started' | 'app.trial_extended' | 'app.trial_ended'>;

/**
 * Patch: the trial's record on the partner account runs as a phase (its own cancellation scope
 * and a deadline), so an uninstall, an operator reject or reconciliation interrupts it while it
 * retries. Before it, the step retried outside any phase, and a queued uninstall waited behind it.
 */
export const TRIAL_RECORD_INTERRUPTIBLE = 'trial-record-interruptible';

/**
 * Patch: the trial's record runs with the heartbeating activities' options, so an uninstall that stops it waits for
 * the attempt in flight to end (a cancelled one learns it within a second): before it, the deprovision began while
 * that attempt could still write the trial to the account. Decided at start only (patches.ts).
 */
export const TRIAL_RECORD_WAITS_FOR_CANCELLATION = 'trial-record-waits-for-cancellation';

/**
 * Patch: a trial record that has been failing for YIELD_AFTER_MS gives way to an install, update or rotation queued
 * behind it that will run (interrupted, the trial kept on the installation, as an uninstall does): before it, a partner whose
 * trial hook kept failing held the queued operation back for up to seven days, expiring it at Talkdesk. A record
 * failing for less goes on retrying: given up, the partner would never learn of that trial event. Decided at start.
 */
export const TRIAL_RECORD_YIELDS_TO_QUEUED_OPERATION = 'trial-record-yields-to-queued-operation';

/** How long a failing trial record may hold a queued install, update or rotation back (an hour of its seven days). */
const YIELD_AFTER_MS = 3_600_000;
const YIELDED = 'an install, update or rotation queued behind it';

/** A queued install, update or rotation that will run when its turn comes (not one over, nor one the phase ignores). */
function willRun(state: InstallationState, e: LifecycleEvent, earlierInstallsOver: boolean): boolean {
  if (e.type === 'app.installed')
    return !olderThanApplied(state, 'uninstall', e) && !(earlierInstallsOver && installOfEarlierLife(state, e));
  if (e.type === 'app.updated') return state.phase === 'active' && !olderThanApplied(state, 'install', e);
  const live = state.phase !== 'new' && !FINAL_PHASES.includes(state.phase);
  return e.type === 'app.credentials_rotated' && live && !olderThanApplied(state, 'install', e);
}

/** The trial after the event: a start begins one, an extension moves its end, an end closes it. */
export function nextTrial(trial: InstallationState['trial'], event: TrialEvent): NonNullable<InstallationState['trial']> {
  const f = event.facts;
  switch (event.type) {
    case 'app.trial_started':
      return { startedAt: event.createdAt, expiresAt: f.expires_at };
    case 'app.trial_extended':
      return { ...trial, expiresAt: f.expires_at ?? trial?.expiresAt };
    case 'app.trial_ended':
      return {
        ...trial,
        expiresAt: event.facts.expires_at ?? trial?.expiresAt,
        endedAt: event.facts.ended_at,
        endedReason: event.facts.ended_reason,
        endedBy: event.facts.ended_by,
      };
  }
}

/**
 * Trial events: kept on the installation and recorded on the partner account. Under the patch,
 * a record that does not land (interrupted, or failing for `phaseTimeoutMs` from its first
 * attempt) is given up: the trial stays on the workflow state, and a history entry says why.
 */
export async function runTrial(ctx: PhaseContext, event: TrialEvent): Promise<void> {
  const { state } = ctx;
  const trial = nextTrial(state.trial, event);
  state.trial = trial;
  // Asked here, before any step of the trial (decided at start: a check after the record would follow a local activity).
  const waits = ctx.patched(TRIAL_RECORD_WAITS_FOR_CANCELLATION);
  const input = { installationId: ctx.installationId, accountId: state.accountId, trial, eventType: event.type };
  const record = () =>
    ctx.step(
      'record the trial on the account',
      ctx.acts.recordTrial,
      { ...input, fields: { ...event.facts }, ...partnerEvent(event) },
      waits ? ctx.withHeartbeat : undefined,
    );
  if (!ctx.patched(TRIAL_RECORD_INTERRUPTIBLE)) {
    await record();
    ctx.describe();
    return;
  }
  // No Talkdesk operation waits on it: its time counts from its first attempt, not from the event,
  // and a run that re-enters it after continue-as-new keeps the deadline it had.
  const resumed = ctx.run.resumedEventId === event.eventId && state.deadline !== undefined;
  const deadline = resumed ? Date.parse(state.deadline!) : Date.now() + ctx.options.phaseTimeoutMs;
  state.deadline = new Date(deadline).toISOString();
  const startedAt = new Date().toISOString();
  let recording = true;
  if (ctx.patched(TRIAL_RECORD_YIELDS_TO_QUEUED_OPERATION)) {
    // Counted from the record's first attempt (its deadline goes on across continue-as-new); checked as its backoffs end.
    const failingLong = () => ctx.steps.backingOff && Date.now() >= deadline - ctx.options.phaseTimeoutMs + YIELD_AFTER_MS;
    const earlierInstallsOver = ctx.patched(EARLIER_LIFE_INSTALL_OVER);
    void condition(() => !recording || (failingLong() && state.queue.some((e) => willRun(state, e, earlierInstallsOver)))).then(
      () => {
        if (recording) ctx.phases.interrupt(YIELDED);
      },
      () => undefined, // the workflow cancelled: nothing to give way to
    );
  }
  const outcome = await ctx.phases.run(deadline, record);
  recording = false;
  state.deadline = undefined;
  // Refused for good: the workflow fails with the step, as before the patch.
  if (outcome.kind === 'failed') throw outcome.error;
  if (outcome.kind !== 'done') {
    const why = outcome.kind === 'expired' ? 'the partner kept failing until its deadline' : `interrupted by ${outcome.reason}`;
    state.history = keepLast([
      ...state.history,
      {
        phase: state.phase,
        eventId: event.eventId,
        startedAt,
        endedAt: new Date().toISOString(),
        result: outcome.kind === 'expired' ? 'expired' : 'interrupted',
        detail: why,
        outcome: `${event.type} not recorded on the partner account (${why}); the trial is kept on the installation`,
      },
    ]);
    state.currentStep = undefined;
    state.attempts = 0;
  }
  ctx.describe();
}
