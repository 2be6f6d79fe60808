import { ApplicationFailure, log, setHandler } from '@temporalio/workflow';
import {
  FINAL_PHASES,
  IN_PROGRESS_PHASES,
  eventSignal,
  isReconcileAction,
  reconcileSignal,
  type ReconcileSeen,
  rejectUpdate,
  retryNowUpdate,
  stateQuery,
} from '../definitions';
import { enqueue, keepLast, markHandled, recordIgnored, toView, uninstallQueued } from '../state';
import { MARK_ACTIVE, OPERATOR_REJECT } from './common';
import type { PhaseContext } from './context';
import { askRotationWaits, markEarlierLifeUninstall } from './earlier-life';
import { endsEarlierLife, STALE_UNINSTALL_SPARES_REINSTALL, UNINSTALL_OVER } from './late';
import { OPERATOR_REJECT_CONCLUDED_OPERATIONS } from './operator';

/**
 * The failure an operator update is refused with (by its validator: nothing is recorded in the
 * history). Not retryable: the same request would be refused again until the installation changes.
 */
export const OPERATOR_REQUEST_REFUSED = 'OperatorRequestRefused';
/**
 * Patch: a `retryNow` that arrives while a step's attempt is under way makes its retry, should it fail, come at once
 * (no backoff, unless Talkdesk's Retry-After). Decided at start only (patches.ts, the eleventh generation).
 */
export const RETRY_NOW_FOLLOWS_ATTEMPT = 'retry-now-follows-attempt';
const refuse = (message: string): ApplicationFailure =>
  ApplicationFailure.create({ type: OPERATOR_REQUEST_REFUSED, message, nonRetryable: true });

/** An operator's reason: a string of 1 to 500 characters (`required`), or absent. */
function checkReason(request: unknown, required: boolean, what: string): void {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw refuse(`The ${what} input must be an object like {"reason": "..."}.`);
  }
  const { reason } = request as { reason?: unknown };
  if (reason === undefined && !required) return;
  if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > 500) {
    throw refuse(
      required
        ? `A reason of 1 to 500 characters is required to ${what} an installation.`
        : `The ${what} reason, when given, must be a string of 1 to 500 characters.`,
    );
  }
  // A rejection's reason goes to Talkdesk, which shows it to the customer (as a partner's refusal, cleaned there).
  if (CONTROL_CHARACTERS.test(reason)) throw refuse(`The ${what} reason must not hold control characters (tab and line breaks are fine).`);
}

/** Control characters other than tab, line feed and carriage return. Validator only: no patch. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** Patch: an uninstall interrupts whatever runs (a rotation too), not only an install or update. */
const UNINSTALL_INTERRUPTS_ANY_PHASE = 'uninstall-interrupts-any-phase';

/**
 * Patch: reconciliation's markActive (Talkdesk completed the install or update it read as running)
 * interrupts only an install or update. Its pass read the record a moment before: the phase may
 * have ended since, and an uninstall or a rotation running now must not be stopped by it (an
 * interrupted uninstall was never acknowledged at Talkdesk).
 */
const MARK_ACTIVE_ONLY_INSTALL_OR_UPDATE = 'mark-active-only-install-or-update';

/**
 * Patch: markActive interrupts an install or update only once it has begun its state call. Before
 * that, its own work is not done (an update's users and subscription not applied): Talkdesk shows the
 * operation completed because another call concluded it (one state endpoint concludes whatever is
 * pending, e.g. the previous phase's retried approval), and the phase's state call, reading
 * Talkdesk's state first, finds it completed and ends it after that work (docs/versioning.md).
 */
const MARK_ACTIVE_AFTER_STATE_CALL = 'mark-active-after-state-call';

/**
 * Patch: markActive never ends a phase. It carries no operation identity, so a pass's stale read
 * (an earlier update completed) could end a later update backing off in its state call, whose
 * approval was then never sent. Now it only tells the phase that Talkdesk may have concluded its
 * operation: its state call, backing off or in an attempt, retries at once (after that attempt, should
 * it fail), and every retry reads Talkdesk's state first, so the phase ends `approved` from what
 * Talkdesk shows, or sends the approval still needed.
 */
const MARK_ACTIVE_RETRIES_STATE_CALL = 'mark-active-retries-state-call';
/** Patch: a reconcile signal whose payload is not a ReconcileAction is ignored (it deprovisioned). */
const RECONCILE_IGNORES_MALFORMED = 'reconcile-ignores-malformed';
/**
 * Patch: a reconcile action judged on a record that named another operation than the one this run applies now (a
 * reinstall begun since the pass read `active`, a newer update) is ignored: Talkdesk's state it acts on was read
 * for that other operation. The next pass judges again. Asked for every action that names what it was judged on
 * (`seen`), whatever the run's state: a handler can run before or after the code that ends a phase (a local
 * activity's result in the same task), live and on replay in either order, so asking only on a mismatch could move.
 */
export const RECONCILE_ACTION_OF_OPERATION_SEEN = 'reconcile-action-of-operation-seen';

/**
 * The Talkdesk operation (install, update, uninstall) this run is applying, by its event: none between phases. In a
 * run continued as new mid-phase, before it re-enters the phase (its first task's signals), the carried one.
 */
function operationUnderWay({ state, run }: PhaseContext): string | undefined {
  const operation = state.phase === 'installing' || state.phase === 'updating' || state.phase === 'uninstalling';
  return operation && state.deadline !== undefined ? (run.applying?.event ?? state.resume?.event)?.eventId : undefined;
}

/**
 * Whether an action's `seen` names another operation than the one under way: another phase, or the same phase for
 * another event. Only an operation under way counts: a run between phases (a lost run resumed, its phase's event not
 * yet handed over again) acts as before, and so does a record naming no event (written before the field).
 */
function judgedOnAnotherOperation(ctx: PhaseContext, seen: ReconcileSeen | undefined): boolean {
  const underWay = operationUnderWay(ctx);
  if (!seen || underWay === undefined) return false;
  return seen.phase !== ctx.state.phase || (seen.phaseEventId !== undefined && seen.phaseEventId !== underWay);
}

/**
 * The workflow's signals, query and updates. Handlers only record requests and
 * interrupt the running phase; the main loop acts on them one at a time.
 */
export function registerHandlers(ctx: PhaseContext): void {
  const { state, phases, run, installationId, workflowId } = ctx;

  setHandler(eventSignal, (event) => {
    askRotationWaits(ctx, [event]); // first, by the signal alone (earlier-life.ts)
    if (event.installationId !== installationId) {
      recordIgnored(state, event.eventId, 'event for another installation');
      return;
    }
    if (!enqueue(state, event)) {
      recordIgnored(state, event.eventId, 'duplicate delivery');
      return;
    }
    if (event.type === 'app.uninstalled') {
      if (endsEarlierLife(state, ctx.run.applying?.event ?? state.resume?.event, event) && ctx.patched(STALE_UNINSTALL_SPARES_REINSTALL)) {
        // An uninstall of an earlier life (older than a reinstall running or applied) is over: it stops nothing and,
        // taken out of the queue, never counts as the uninstall waiting (it would keep a failed reinstall's credentials).
        state.queue = state.queue.filter((e) => e.eventId !== event.eventId);
        recordIgnored(state, event.eventId, UNINSTALL_OVER);
        markHandled(state, event.eventId);
        markEarlierLifeUninstall(ctx, event);
      } else if (state.phase === 'installing' || state.phase === 'updating') phases.interrupt('uninstall');
      // Anything else running (a rotation retrying for days) must not eat the uninstall's seven days.
      else if (phases.running && state.phase !== 'uninstalling' && ctx.patched(UNINSTALL_INTERRUPTS_ANY_PHASE))
        phases.interrupt('uninstall');
    }
    ctx.describe();
  });

  setHandler(stateQuery, () => toView(state, workflowId));

  setHandler(reconcileSignal, (action) => {
    // A malformed payload (an operator's typo) changes nothing; before the patch anything but endUpdate or
    // markActive deprovisioned. Asked only for such a payload: a valid one records no marker.
    if (!isReconcileAction(action) && ctx.patched(RECONCILE_IGNORES_MALFORMED)) {
      log.warn('reconcile signal ignored: not an action reconciliation sends', {
        action: String(JSON.stringify(action) ?? action).slice(0, 200),
      });
      return;
    }
    // A payload checked above (or, in a run from before that check, anything): `seen` read only when it is an action.
    const seen = isReconcileAction(action) ? action.seen : undefined;
    if (seen !== undefined && ctx.patched(RECONCILE_ACTION_OF_OPERATION_SEEN) && judgedOnAnotherOperation(ctx, seen)) {
      log.info('reconcile signal ignored: judged on another operation than the one under way', {
        action: action.action,
        seen,
        underWay: operationUnderWay(ctx),
      });
      return;
    }
    // Only what the drift concerns: a timed-out update stops the update, nothing else.
    if (action.action === 'endUpdate' && state.phase !== 'updating') return;
    // Asked for every markActive, whatever the phase: whether the marker is recorded must not depend on
    // where the run stands when the signal is handled.
    if (action.action === 'markActive') {
      const onlyInstallOrUpdate = ctx.patched(MARK_ACTIVE_ONLY_INSTALL_OR_UPDATE);
      const afterStateCall = ctx.patched(MARK_ACTIVE_AFTER_STATE_CALL);
      const retriesStateCall = ctx.patched(MARK_ACTIVE_RETRIES_STATE_CALL);
      if (onlyInstallOrUpdate && state.phase !== 'installing' && state.phase !== 'updating') return;
      if (retriesStateCall) {
        run.completedAtTalkdesk = true;
        // Only the state call: the phase's other steps (an undo, a revert) have nothing to learn from Talkdesk.
        if (run.stateCallRunning) ctx.steps.requestRetrySoon();
        return;
      }
      if (afterStateCall && !run.stateCallBegun) {
        run.completedAtTalkdesk = true;
        return;
      }
    }
    run.pendingReconcile = action;
    if (action.action === 'markActive') phases.interrupt(MARK_ACTIVE);
    else phases.interrupt(`Talkdesk reporting ${action.talkdeskState}`);
    ctx.describe();
  });

  setHandler(
    retryNowUpdate,
    ({ reason }) => {
      state.operatorActions = keepLast([...state.operatorActions, { action: 'retryNow', at: new Date().toISOString(), reason }]);
      // An attempt under way (patch retry-now-follows-attempt): its retry, should it fail, comes at once. Before it, the
      // request was taken and forgotten when the attempt's backoff began.
      if (ctx.steps.attempting && ctx.patched(RETRY_NOW_FOLLOWS_ATTEMPT)) ctx.steps.requestRetrySoon();
      else ctx.steps.requestRetryNow();
      return toView(state, workflowId);
    },
    {
      validator: (request: { reason?: string }) => {
        checkReason(request, false, 'retryNow');
        // A step outside any phase (reconciliation's deprovision, a retired set's destroy) retries too. Validator only.
        // An attempt's retry is honoured under the patch only (decided at start: asking it adds no marker).
        const retryable = ctx.steps.backingOff || (ctx.steps.attempting && ctx.patched(RETRY_NOW_FOLLOWS_ATTEMPT));
        if (!IN_PROGRESS_PHASES.includes(state.phase) && !phases.running && !retryable) {
          throw refuse(`Nothing to retry: the installation is ${state.phase}, no phase or step is running.`);
        }
      },
    },
  );

  setHandler(
    rejectUpdate,
    ({ reason }) => {
      state.operatorActions = keepLast([...state.operatorActions, { action: 'reject', at: new Date().toISOString(), reason }]);
      run.pendingReject = reason;
      run.rejectConcluded = ctx.patched(OPERATOR_REJECT_CONCLUDED_OPERATIONS);
      phases.interrupt(OPERATOR_REJECT);
      return toView(state, workflowId);
    },
    {
      validator: (request) => {
        checkReason(request, true, 'reject');
        // Its stored record not loaded yet (the first task, or the store step retrying): the phase, the set and whether
        // a lost run left an install whose approval may have landed (below) are not known. Validator only: no patch.
        if (run.loadingStored) {
          throw refuse('Cannot reject yet: the run is loading its stored record (the store may be slow or down); retry in a moment.');
        }
        if (FINAL_PHASES.includes(state.phase) || state.phase === 'uninstalling') {
          throw refuse(`Cannot reject: the installation is already ${state.phase}.`);
        }
        // Run before the queued uninstall, its rejection would meet the uninstall open at Talkdesk, and the
        // credentials the uninstall acknowledges with be destroyed. Validator only: no patch.
        if (uninstallQueued(state)) {
          throw refuse('Cannot reject: Talkdesk uninstalled the app; the uninstall is applied next and ends the installation.');
        }
        // Talkdesk has nothing to reject (it would answer 409) and the account would be destroyed here all the same.
        if (state.phase === 'active') {
          throw refuse('Cannot reject: the installation is active (approved at Talkdesk); an uninstall in Talkdesk ends it.');
        }
        // No install yet (a trial or rotation waiting for it): nothing could be sent, and the install arriving later
        // starts a new run that approves it all the same. Validator only: no patch.
        if (state.phase === 'new' && !state.activeClientId && !run.installEvent && !state.queue.some((e) => e.type === 'app.installed')) {
          throw refuse('Cannot reject: no install has arrived yet, so Talkdesk has nothing to reject; reject the install once it arrives.');
        }
        // A run resumed from a record left installing (its workflow lost), before the install runs again: its approval
        // may have landed, and only the install's own path reads Talkdesk before undoing anything. Validator only: no patch.
        if (state.phase === 'new' && run.resumedMidPhase && !run.installEvent) {
          throw refuse(
            'Cannot reject yet: the install a lost run left is being resumed (its approval may have landed); reject it once it runs again (phase installing).',
          );
        }
        // Outside any phase run (a revert, the phase's record): a failed update's rejection being sent is replaced instead.
        // Validator only: no patch.
        if (run.endingUpdate !== undefined && !phases.running) {
          throw refuse(
            `Cannot reject: the update has ended (${run.endingUpdate}) and is being concluded; nothing of it is left open at Talkdesk to reject.`,
          );
        }
        if (run.readingAtDeadline) {
          throw refuse(
            'Cannot reject: the phase reached its seven days; a last read of Talkdesk decides whether it is kept or undone (retry the reject after it).',
          );
        }
        // Stopping (its deadline, Talkdesk's view, an uninstall), or past its deadline (a run re-entering it): how the
        // phase ends is decided already, and a reject accepted now would run after it, on what it left. Validator only.
        if (phases.stopping || (state.deadline !== undefined && Date.parse(state.deadline) <= Date.now())) {
          throw refuse(
            'Cannot reject: the running phase is already stopping (its seven days reached, or stopped by Talkdesk); see how it ends.',
          );
        }
        // Stopping the install's rejection under way would leave Talkdesk untold: its credentials are destroyed next.
        // Validator only (a refused update writes no history, replay runs no validator): no patch.
        if (run.pendingReject !== undefined || run.endingInstall || run.pendingReconcile?.action === 'deprovision') {
          throw refuse(
            'Cannot reject: the install is already ending (its rejection at Talkdesk and its undo run; retryNow hurries a retry).',
          );
        }
      },
    },
  );
}
