import { allHandlersFinished, condition, continueAsNew, workflowInfo } from '@temporalio/workflow';
import { FINAL_PHASES, type InstallationView } from '../definitions';
import { withDefaults, type InstallationOptions } from '../options';
import { initialState, isSuperseded, markKindApplied, restoreHandled, toView, type InstallationState } from '../state';
import { apply } from './apply';
import { CONTINUE_AS_NEW_MID_PHASE, createPhaseContext, type PhaseContext } from './context';
import { registerHandlers } from './handlers';
import { askRotationWaits, EARLIER_LIFE_UNINSTALL_KNOWN, newerInstallEndsWait, newLifeBeforeItsInstall } from './earlier-life';
import { queuedInstallToTake, takeQueuedInstallFirst } from './first-install';
import { FINISHED_RUN_KNOWS_EVENT_TIMES, handleLate, ignoreAsSuperseded, lateAtItsSecond, STALE_UNINSTALL_SPARES_REINSTALL } from './late';
import { StepFailedError, stepFailedForGood } from '../steps';
import { olderThanAdopted } from './queued-rotation';
import { runOperatorReject, runReconcile } from './operator';

export interface InstallationInput {
  installationId: string;
  /**
   * The tunables, resolved by the starter (`withDefaults`) and carried whole across
   * continue-as-new, so a changed default never reaches a running workflow. A
   * field missing (a tunable added after the run began) takes its default.
   */
  options?: Partial<InstallationOptions>;
  /** The whole state, handed over by continue-as-new. */
  carried?: InstallationState;
  /**
   * Started from the stored record by reconciliation, which hands over what the lost run left itself: its
   * record is not marked for the next pass to look (`resumed_runs`). Activity input only: no command changes.
   */
  resumedByReconciliation?: boolean;
}

/**
 * One workflow per Talkdesk installation (id `installation-<installation_id>`):
 * applies lifecycle events in `created_at` order, one phase at a time, for the
 * life of the installation, and completes when it is uninstalled.
 */
export async function installationWorkflow(input: InstallationInput): Promise<InstallationView> {
  try {
    return await runInstallation(input);
  } catch (err) {
    // A step that failed for good outside a phase (loading the installation, a revert, an undo,
    // a reconcile action) would otherwise fail the workflow task, retried forever while the
    // workflow shows RUNNING: fail the workflow instead, with a typed failure.
    if (err instanceof StepFailedError) throw stepFailedForGood(err);
    throw err;
  }
}

async function runInstallation(input: InstallationInput): Promise<InstallationView> {
  // A run started before an option existed takes its default (heartbeatingActivityTimeoutMs: only a command's
  // timeout changes, which replay does not compare).
  const options = withDefaults(input.options);
  const state: InstallationState = input.carried ?? initialState(input.installationId);
  const ctx = createPhaseContext(state, options, workflowInfo().workflowId);
  const { run } = ctx;
  // Before the handlers: an uninstall or reject delivered with the new run's first task stops the re-entered phase.
  if (state.resume) ctx.phases.expectResume();
  // A reject delivered with the first task is validated as the handlers register (the SDK's buffer), before the load:
  // accepted there (an install rejected before it begins), except in a run reconciliation started to resume a lost one
  // (its install may have been approved). Read by the validator only.
  run.loadingStored = (!input.carried && input.resumedByReconciliation === true) || undefined;
  registerHandlers(ctx);
  askRotationWaits(ctx, state.queue); // a carried queue's: in the first task, before any activity
  run.recordedHandled = JSON.stringify(state.handledEventIds ?? []);

  if (!input.carried) {
    // Until loaded, a reject is refused (no command): accepted, it would miss a lost run's install.
    run.loadingStored = true;
    await resumeFromStore(ctx, input.resumedByReconciliation === true);
    run.loadingStored = undefined;
  }
  ctx.publish();

  const nextRetirement = () => Math.min(...state.retiring.map((r) => Date.parse(r.retireAt)));
  const shouldContinueAsNew = () => workflowInfo().continueAsNewSuggested || run.handledThisRun >= options.maxEventsPerRun;

  // A phase retrying for hours must not reach the server's history limit: continue as new
  // during a backoff (nothing in flight), and the next run re-enters the phase.
  ctx.steps.midPhaseCut = {
    armed: () => ctx.phases.resumable && run.applying !== undefined && ctx.patched(CONTINUE_AS_NEW_MID_PHASE),
    wanted: () =>
      (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= options.maxHistoryEventsPerRun) &&
      ctx.phases.resumable &&
      run.pendingReject === undefined &&
      run.pendingReconcile === undefined &&
      allHandlersFinished(),
    cut: (step, attempt, retryAt) => {
      const { event, late } = run.applying!;
      const ackBegun = run.ackBegunFor === event.eventId ? { ackBegun: true } : {};
      const keyed = late && run.updateLateKeyed ? { lateKeyed: true } : {};
      const resume = { event, late, step, attempt, retryAt: new Date(retryAt).toISOString(), ...ackBegun, ...keyed };
      const carried: InstallationState = { ...state, resume };
      return continueAsNew<typeof installationWorkflow>({ installationId: ctx.installationId, options, carried });
    },
  };
  if (state.resume) await resumePhase(ctx);

  for (;;) {
    const waitMs = state.retiring.length ? Math.max(1, nextRetirement() - Date.now()) : undefined;
    const ready = () =>
      state.queue.length > 0 || run.pendingReject !== undefined || run.pendingReconcile !== undefined || shouldContinueAsNew();
    if (FINAL_PHASES.includes(state.phase) && state.queue.length === 0 && run.pendingReject === undefined) {
      // Events ignored in this run's last moments (a short run for a finished installation):
      // their ids reach the store, so that no later run handles them again.
      if (JSON.stringify(state.handledEventIds ?? []) === run.recordedHandled || !ctx.patched(RECORD_HANDLED_BEFORE_COMPLETING)) break;
      // Asked before the write, a local activity (docs/versioning.md, "Patches decided at start").
      const drain = ctx.patched(DRAIN_QUEUE_BEFORE_COMPLETING);
      await ctx.recordPhase();
      // An event signalled while that write ran or retried (a reinstall) is this run's: the
      // callback marked it handed over, so completing now would lose it for good.
      if (!drain || state.queue.length === 0) break;
      continue;
    }
    if (waitMs === undefined) await condition(ready);
    else await condition(ready, waitMs);

    for (const due of state.retiring.filter((r) => Date.parse(r.retireAt) <= Date.now())) {
      await ctx.step('destroy retired credentials', ctx.acts.destroyCredentials, {
        installationId: ctx.installationId,
        clientId: due.clientId,
      });
      state.retiring = state.retiring.filter((r) => r.clientId !== due.clientId);
      ctx.describe();
    }

    if (run.pendingReconcile !== undefined) {
      const action = run.pendingReconcile;
      run.pendingReconcile = undefined;
      await runReconcile(ctx, action);
      continue;
    }

    if (run.pendingReject !== undefined) {
      const reason = run.pendingReject;
      run.pendingReject = undefined;
      await runOperatorReject(ctx, reason);
      continue;
    }

    if (shouldContinueAsNew() && !ctx.phases.running) {
      await condition(allHandlersFinished);
      // The resolved tunables, not the input's: the next run must not pick up a changed default.
      return continueAsNew<typeof installationWorkflow>({ installationId: ctx.installationId, options, carried: state });
    }

    const firstInstall = state.phase === 'new' && !state.activeClientId;
    if (firstInstall) takeQueuedInstallFirst(ctx);
    const head = state.queue[0];
    if (!head) continue;
    const newLife = newLifeBeforeItsInstall(ctx, head);
    if ((firstInstall && head.type !== 'app.installed') || newLife) {
      // Events can arrive out of order: give the install (and its credentials) time to arrive.
      const remaining = graceLeft(ctx, newLife);
      if (remaining > 0) {
        state.currentStep = 'waiting for the app.installed event (events arrived out of order)';
        ctx.describe();
        // The head's install comes first; for a new life's event other than an uninstall, a newer install too (it must
        // not wait on each); a new life's uninstall waits for its own (it ends a life in between: newerInstallEndsWait).
        const anyInstallEnds = newLife && newerInstallEndsWait(ctx, head);
        await condition(
          () =>
            state.queue[0]?.type === 'app.installed' ||
            (anyInstallEnds && state.queue.some((e) => e.type === 'app.installed')) ||
            (!newLife && queuedInstallToTake(ctx) > 0),
          remaining,
        );
        state.currentStep = undefined;
        continue;
      }
    }
    const event = state.queue.shift();
    if (!event) continue;
    if (isSuperseded(state, event) || lateAtItsSecond(ctx, event) || olderThanAdopted(ctx, event)) {
      if (!(await handleLate(ctx, event))) ignoreAsSuperseded(ctx, event);
      continue;
    }
    await apply(ctx, event);
  }

  await condition(allHandlersFinished);
  return toView(state, ctx.workflowId);
}

/** Patch: a run that ends with handled ids the store has not seen records them first. */
const RECORD_HANDLED_BEFORE_COMPLETING = 'record-handled-before-completing';
/** Patch: an event queued while that last record was written is handled instead of dropped by completing. */
const DRAIN_QUEUE_BEFORE_COMPLETING = 'drain-queue-before-completing';

/** What is left of the wait for an install: a first install's, once per run; a new life's, once per earlier end. */
function graceLeft(ctx: PhaseContext, newLife: boolean): number {
  const { run, options } = ctx;
  const after = ctx.state.appliedAt?.uninstall;
  if (newLife && after !== undefined) {
    if (run.newLifeGrace?.after !== after) run.newLifeGrace = { after, until: Date.now() + options.orderingGraceMs };
    return run.newLifeGrace.until - Date.now();
  }
  run.graceUntil ??= Date.now() + options.orderingGraceMs;
  return run.graceUntil - Date.now();
}

/** Re-enters the phase the previous run cut by continue-as-new: same phase, deadline and history entry; attempts go on. */
async function resumePhase(ctx: PhaseContext): Promise<void> {
  const resume = ctx.state.resume!;
  ctx.state.resume = undefined;
  ctx.run.resumedEventId = resume.event.eventId;
  if (resume.ackBegun) ctx.run.ackBegunFor = resume.event.eventId;
  ctx.run.resumedLateKeyed = resume.lateKeyed === true;
  ctx.steps.resume({ step: resume.step, attempt: resume.attempt, retryAt: resume.retryAt });
  await apply(ctx, resume.event, { late: resume.late, resumed: true });
}

/** A new run for an installation seen before: never re-apply what it already applied. */
async function resumeFromStore(ctx: PhaseContext, byReconciliation: boolean): Promise<void> {
  const { state } = ctx;
  const ref = { installationId: ctx.installationId, ...(byReconciliation ? { byReconciliation } : {}) };
  const stored = await ctx.storeStep('load the stored installation', 'loadInstallation', ref);
  if (!stored) return;
  state.lastAppliedAt = stored.lastEventAt;
  restoreHandled(state, stored.handledEventIds ?? []);
  ctx.run.recordedHandled = JSON.stringify(state.handledEventIds ?? []);
  const { phase } = stored;
  ctx.run.storedAppId = stored.appId;
  // A finished installation's uninstall: an older install is over (a newer one is a reinstall).
  // Its own time when recorded (activity input only: records written before it take `lastEventAt`, as before, so no patch).
  // Not an earlier life's (a reinstall that ended `uninstalled` without an uninstall event: revoked, deprovisioned).
  const ownUninstall =
    stored.uninstallEventAt !== undefined &&
    !(stored.installEventAt !== undefined && Date.parse(stored.installEventAt) > Date.parse(stored.uninstallEventAt));
  const uninstalledAt = ownUninstall ? stored.uninstallEventAt : stored.lastEventAt;
  if (phase === 'uninstalled' && uninstalledAt) markKindApplied(state, 'uninstall', uninstalledAt);
  if (FINAL_PHASES.includes(phase)) {
    state.phase = phase;
    // A run for an event that arrived after the end (late.ts): its search attributes name the account
    // like the earlier run's, so operators find it by TalkdeskAccountId. Kept out of `state`, so no
    // activity of the run acts on that account (a late trial event must not reach a reinstalled one).
    // No new command: the upsert it makes anyway holds more attributes (core matches it by type).
    ctx.run.storedAccount = { accountId: stored.accountId, accountName: stored.accountName };
    // Its newest install and trial event too, under the patch: an older one is judged late as the run before would
    // have (an earlier life's install, uninstall or update over; an older trial event superseded), not applied.
    if (ctx.patched(FINISHED_RUN_KNOWS_EVENT_TIMES)) {
      if (stored.installEventAt) markKindApplied(state, 'install', stored.installEventAt);
      if (stored.trialEventAt) markKindApplied(state, 'trial', stored.trialEventAt);
    }
  } else if (phase !== 'new') {
    // Resumed by reconciliation after its workflow was lost: restore what it had, in the
    // phase before any unfinished one (the event that started that phase is handed over again).
    // Its install's time too: an uninstall older than it ended an earlier life (late.ts).
    if (stored.installEventAt && ctx.patched(STALE_UNINSTALL_SPARES_REINSTALL)) markKindApplied(state, 'install', stored.installEventAt);
    // And an earlier life's uninstall (no newer than that install): that life's late trial events are over (late.ts).
    const earlierEnd = stored.uninstallEventAt;
    const beforeInstall = earlierEnd && stored.installEventAt && Date.parse(earlierEnd) <= Date.parse(stored.installEventAt);
    if (beforeInstall && ctx.patched(EARLIER_LIFE_UNINSTALL_KNOWN)) markKindApplied(state, 'uninstall', earlierEnd);
    // An update older than the newest applied is late (its users re-read, its call never sent blind). Recorded since
    // this field exists: a history whose stored record lacks it takes the old path, so no patch.
    if (stored.updateEventAt) markKindApplied(state, 'update', stored.updateEventAt);
    // And the update whose subscription it holds ('': none did): a late update's is taken only if none newer set one. A
    // record from before the field: the newest applied update's time (not an update under way's, handed over again to
    // finish), so that a late one never replaces what a newer one may have set (the subscription only, no command: no patch).
    const from = stored.subscriptionFrom ?? (phase === 'updating' ? undefined : stored.updateEventAt);
    if (from) state.subscriptionFrom ??= from;
    // So is a trial event older than the newest applied: recorded, never written over the newer trial (same reason, no patch).
    if (stored.trialEventAt) markKindApplied(state, 'trial', stored.trialEventAt);
    // And a rotation older than the newest applied: acknowledged if owed, never switched to (same reason, no patch).
    if (stored.rotationEventAt) markKindApplied(state, 'rotation', stored.rotationEventAt);
    state.phase = phase === 'installing' ? 'new' : 'active';
    // Only the activities' input changes (checkFirst), not the commands: no patch.
    ctx.run.resumedMidPhase = phase !== 'active';
    // The lost run's uninstall, by its event when the record names it (a later life's uninstall in this run is not it).
    if (phase === 'uninstalling' && stored.phaseEventId) ctx.run.uninstallAckSentFor = stored.phaseEventId;
    else ctx.run.resumedUninstalling = phase === 'uninstalling';
    if (phase === 'updating') ctx.run.resumedUpdate = { eventId: stored.phaseEventId, createdAt: stored.updateEventAt };
    state.appId = stored.appId;
    state.accountId = stored.accountId;
    state.accountName = stored.accountName;
    state.activeClientId = stored.activeClientId;
    state.links = stored.links ?? {};
    // The account's trial (its view and the next trial event's record start from it). The result only: no patch.
    if (stored.trial) state.trial = stored.trial;
    // Its retiring sets, destroyed when their grace ends as the lost run would have (the result only: no patch).
    state.retiring = (stored.retiring ?? []).filter((r) => r.clientId !== stored.activeClientId);
  }
}
