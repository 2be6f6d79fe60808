import {
  ActivityCancellationType,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  type ActivityFunctionWithOptions,
  type ActivityInterfaceFor,
  type ActivityOptions,
  type LocalActivityFunctionWithOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { StateCallInput, StateCallResult, StoreActivity, TalkdeskCallRef } from '../activity-types';
import { type InstallationPhase, type LifecycleEvent, type PhaseRecord } from '../definitions';
import type { InstallationOptions } from '../options';
import { InstallationPhaseKey, TalkdeskAccountId, TalkdeskAccountName, TalkdeskAppId } from '../search-attributes';
import { appliedTimes, keepLast, markHandled, newerOperationQueued, type InstallationState } from '../state';
import { PhaseRunner, StepFailedError, StepRunner } from '../steps';
import { currentDetails } from './details';
import { decidePatchesAtStart } from './patches';
import { readsFirst, updateInView, type RunState } from './run-state';

/**
 * Patch: a state call heartbeats and a cancellation waits for its attempt to end, so an
 * approval abandoned by a deadline, an uninstall or a reject cannot land after the
 * workflow moved on. Histories recorded before it replay the old (try-cancel) path.
 */
export const STATE_CALL_WAITS_FOR_CANCELLATION = 'state-call-waits-for-cancellation';
/** Patch: a phase's deadline is `phaseMarginMs` before Talkdesk's seven days. */
export const PHASE_DEADLINE_MARGIN = 'phase-deadline-margin';
/**
 * Patch: the steps that only touch the partner store (loading the stored installation,
 * recording the phase, importing, switching or destroying credentials) run as local activities, and an install gets its token in its
 * first Talkdesk call instead of a step of its own: fewer server round trips per install
 * (docs/performance.md, "History per install").
 */
export const STORE_STEPS_LOCAL = 'store-steps-local';
/**
 * Patch: a phase retrying for hours continues as new at a backoff when the history grows
 * large (workflow.ts), and the next run re-enters it. Histories recorded before it never cut.
 */
export const CONTINUE_AS_NEW_MID_PHASE = 'continue-as-new-mid-phase';
/**
 * Patch: a store step's local attempt is bounded by LOCAL_STEP_TIMEOUT_MS and its retries run
 * on the server. A slow local activity holds its workflow task open, a worker killed meanwhile
 * loses it, and every retry of the task redid the slow step from scratch while the server
 * stretched each retry's timeout up to ten minutes (docs/performance.md, "Workflow tasks held").
 */
export const STORE_STEP_BOUNDED_LOCAL = 'store-step-bounded-local';
/** The longest a store step may hold a workflow task (10 s, heartbeated at 8 s) as a local activity. */
export const LOCAL_STEP_TIMEOUT_MS = 3_000;
/**
 * Patch: an interrupt (uninstall, reject, reconciliation) that arrives while a phase is starting (its
 * record, a local activity, and that step's retries) stops the phase as its body begins, as one during
 * the phase does; before it, the phase ran to its end first (docs/installation-workflow.md, "Start gate").
 */
export const INTERRUPT_AT_PHASE_START = 'interrupt-at-phase-start';
/** The failure type of a state call not sent because Talkdesk did not show the phase's operation open. */
export const NOT_OPEN_AT_TALKDESK = 'NotOpenAtTalkdesk';

/** A state call not sent: Talkdesk showed `talkdeskState`, not the phase's open operation. */
export class NotOpenError extends StepFailedError {
  constructor(
    step: string,
    readonly talkdeskState: string,
    message: string,
  ) {
    super(step, NOT_OPEN_AT_TALKDESK, message);
  }
}
/** How a phase ended: the structured fields of its history entry, and the display text. */
export type PhaseEnd = Required<Pick<PhaseRecord, 'result' | 'outcome'>> & Pick<PhaseRecord, 'detail'>;

export type { RunState } from './run-state';

/**
 * Everything a phase needs: the state, the activities, and the operations every
 * phase shares (a step under the retry loop, the state call, beginning and ending
 * a phase, publishing the phase to the UI). One per run, built by the workflow.
 */
export interface PhaseContext {
  readonly state: InstallationState;
  readonly options: InstallationOptions;
  readonly installationId: string;
  readonly workflowId: string;
  readonly acts: ActivityInterfaceFor<Activities>;
  /** Options for activities that write many documents and must be waited for when cancelled. */
  readonly withHeartbeat: ActivityOptions;
  readonly steps: StepRunner;
  readonly phases: PhaseRunner;
  readonly run: RunState;
  /** Whether the run takes the patch's path (patches.ts: decided at start for runs that recorded it). */
  patched(patchId: string): boolean;
  describe(): void;
  publish(): void;
  /** Sets `lastError` after the steps that end a phase (whose success clears it) and shows it in the UI's current details. */
  keepError(message: string): void;
  step<A, R>(
    description: string,
    activity: ActivityFunctionWithOptions<(input: A) => Promise<R>>,
    args: A | ((attempt: number) => A),
    opts?: ActivityOptions,
  ): Promise<R>;
  /** A step that only touches the partner store: a local activity under STORE_STEPS_LOCAL, else `step`. */
  storeStep<K extends StoreActivity>(description: string, name: K, args: StoreStepArgs<K>): ReturnType<Activities[K]>;
  stateCall(description: string, call: Pick<StateCallInput, 'state' | 'reason' | 'concludes'>): Promise<StateCallResult>;
  recordPhase(): Promise<void>;
  beginPhase(phase: InstallationPhase, event: LifecycleEvent): Promise<number>;
  endPhase(phase: InstallationPhase, end: PhaseEnd): Promise<void>;
  talkdeskRef(): TalkdeskCallRef;
  canCallTalkdesk(): boolean;
}

/** A store step's input, or a function giving it at each attempt (what the workflow learnt meanwhile). */
type StoreStepArgs<K extends StoreActivity> = Parameters<Activities[K]>[0] | ((attempt: number) => Parameters<Activities[K]>[0]);

export function createPhaseContext(state: InstallationState, options: InstallationOptions, workflowId: string): PhaseContext {
  // First, before any handler or activity of the run can ask for a patch.
  const patched = decidePatchesAtStart();
  const installationId = state.installationId;
  const base: ActivityOptions = { startToCloseTimeout: options.activityTimeoutMs, retry: { maximumAttempts: 1 } };
  const acts = proxyActivities<Activities>(base);
  // Provisioning and updates write many documents: when an uninstall interrupts them, wait
  // until the activity has really stopped, so the undo that follows cannot race its writes.
  const withHeartbeat: ActivityOptions = {
    ...base,
    startToCloseTimeout: options.heartbeatingActivityTimeoutMs,
    heartbeatTimeout: options.heartbeatTimeoutMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };

  const describe = () => setCurrentDetails(currentDetails(state));

  // Store-only steps as local activities: one attempt each, the StepRunner retries (visible,
  // retryNow-able). Both timeouts bound an attempt, so a store down for a while fails it and
  // the retry loop backs off on a timer rather than the workflow task waiting on it; a
  // cancellation waits for the attempt to end, so an undo that follows cannot race its writes.
  const local: LocalActivityOptions = {
    startToCloseTimeout: options.activityTimeoutMs,
    scheduleToCloseTimeout: options.activityTimeoutMs,
    retry: { maximumAttempts: 1 },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
  const localActs = proxyLocalActivities<Activities>(local);

  const steps = new StepRunner(state, options, () => describe());
  const run: RunState = { handledThisRun: 0 };

  const publish = () => {
    const attrs: SearchAttributeUpdatePair[] = [{ key: InstallationPhaseKey, value: state.phase }];
    const { accountId, accountName } = run.storedAccount && !state.accountId ? run.storedAccount : state; // workflow.ts
    const appId = state.appId ?? (run.storedAccount ? run.storedAppId : undefined);
    if (accountId) attrs.push({ key: TalkdeskAccountId, value: accountId });
    if (accountName) attrs.push({ key: TalkdeskAccountName, value: accountName });
    if (appId) attrs.push({ key: TalkdeskAppId, value: appId });
    upsertSearchAttributes(attrs);
    describe();
  };

  /** Runs an activity under the workflow's retry loop, with a summary for the UI; `args` may depend on the attempt number. */
  const step = <A, R>(
    description: string,
    activity: ActivityFunctionWithOptions<(input: A) => Promise<R>>,
    args: A | ((attempt: number) => A),
    opts: ActivityOptions = base,
  ): Promise<R> =>
    steps.run(description, (attempt) => {
      describe();
      const input = typeof args === 'function' ? (args as (attempt: number) => A)(attempt) : args;
      return activity.executeWithOptions({ ...opts, summary: description }, [input]);
    });

  const storeStep = <K extends StoreActivity>(description: string, name: K, args: StoreStepArgs<K>) => {
    type Input = Parameters<Activities[K]>[0];
    type Result = Awaited<ReturnType<Activities[K]>>;
    const argsAt = (attempt: number): Input => (typeof args === 'function' ? args(attempt) : args);
    const server = acts[name] as unknown as ActivityFunctionWithOptions<(input: Input) => Promise<Result>>;
    if (!patched(STORE_STEPS_LOCAL)) return step(description, server, argsAt) as ReturnType<Activities[K]>;
    const activity = localActs[name] as unknown as LocalActivityFunctionWithOptions<(input: Input) => Result>;
    if (!patched(STORE_STEP_BOUNDED_LOCAL)) {
      return steps.run(description, (attempt) => {
        describe();
        return activity.executeWithOptions({ ...local, summary: description }, [argsAt(attempt)]);
      }) as ReturnType<Activities[K]>;
    }
    // First attempt local and short; a store too slow for it (or failing) is retried as an
    // activity on the server, which a killed worker cannot take the workflow task down with.
    const bound = Math.min(options.activityTimeoutMs, LOCAL_STEP_TIMEOUT_MS);
    return steps.run(description, (attempt) => {
      describe();
      const input = argsAt(attempt);
      return attempt === 1
        ? activity.executeWithOptions({ ...local, startToCloseTimeout: bound, scheduleToCloseTimeout: bound, summary: description }, [
            input,
          ])
        : server.executeWithOptions({ ...base, summary: description }, [input]);
    }) as ReturnType<Activities[K]>;
  };

  const talkdeskRef = (): TalkdeskCallRef => ({
    installationId,
    appId: state.appId ?? '',
    clientId: state.activeClientId ?? '',
    rootUrl: state.links.root ?? '',
  });

  /**
   * The state call that concludes an operation at Talkdesk. A retry reads
   * Talkdesk's state first (checkFirst), so an approval whose answer was lost
   * (timeout, worker killed) is not sent a second time.
   */
  const stateCall = async (
    description: string,
    call: Pick<StateCallInput, 'state' | 'reason' | 'concludes' | 'late'>,
  ): Promise<StateCallResult> => {
    const opts = patched(STATE_CALL_WAITS_FOR_CANCELLATION) ? withHeartbeat : base;
    run.stateCallBegun = true;
    run.stateCallRunning = true;
    const res = await step(
      description,
      acts.setInstallationState,
      (attempt) => {
        // Judged at each attempt: a newer operation's event may have been delivered while this one backed off.
        const late = call.late === true || (call.concludes === 'update' && newerOperationQueued(state, updateInView(run)));
        return {
          ...talkdeskRef(),
          ...call,
          ...(late ? { late } : {}),
          checkFirst: readsFirst(run, call.concludes, attempt) || late,
          // Only this call may have been sent before: a retry (a step a continue-as-new cut resumes at attempt 2 or
          // more), or an uninstall a lost run had begun (not a mere re-entry: the cut may have come before it).
          resent:
            attempt > 1 ||
            (call.concludes === 'uninstall' && run.applying !== undefined && run.uninstallAckSentFor === run.applying.event.eventId),
        };
      },
      opts,
    ).finally(() => {
      run.stateCallRunning = false;
    });
    if (res.notSent) {
      // Not this phase's operation (docs/lifecycle.md, "State calls"): nothing sent, what Talkdesk showed is recorded.
      const shows = `Talkdesk shows ${res.state}${res.reason ? ` (${res.reason})` : ''}`;
      state.lastError = `${description}: not sent, ${shows}`;
      throw new NotOpenError(description, res.state, shows);
    }
    return res;
  };

  const recordPhase = () => {
    run.recordedHandled = JSON.stringify(state.handledEventIds ?? []);
    return storeStep('record the phase in the partner store', 'recordInstallation', {
      installationId,
      workflowId,
      appId: state.appId ?? run.storedAppId ?? '',
      accountId: state.accountId,
      accountName: state.accountName,
      phase: state.phase,
      activeClientId: state.activeClientId,
      lastEventAt: state.lastAppliedAt,
      // Activity input only: what a run resumed from the record needs to judge late events.
      ...appliedTimes(state, run.applying?.event),
      subscriptionFrom: state.subscriptionFrom ?? '', // '': no update set one (a record from before the field has none)
      handledEventIds: state.handledEventIds,
      // Only while the phase runs (endPhase clears the deadline before its record): between phases, none.
      phaseEventId: state.deadline !== undefined ? run.applying?.event.eventId : undefined,
      links: state.links,
    });
  };

  const beginPhase = async (phase: InstallationPhase, event: LifecycleEvent): Promise<number> => {
    run.stateCallBegun = false;
    run.completedAtTalkdesk = false;
    // Re-entered after continue-as-new mid-phase: the same phase, deadline and history entry go on.
    if (run.resumedEventId === event.eventId && state.phase === phase && state.deadline) {
      publish();
      return Date.parse(state.deadline);
    }
    // Ends before Talkdesk's seven days, so a state call in flight at the deadline cannot conclude after it.
    const margin = patched(PHASE_DEADLINE_MARGIN) ? options.phaseMarginMs : 0;
    const deadline = Date.parse(event.createdAt) + options.phaseTimeoutMs - margin;
    state.phase = phase;
    state.deadline = new Date(deadline).toISOString();
    state.history = keepLast([
      ...state.history,
      { phase, eventId: event.eventId, startedAt: new Date().toISOString(), deadline: state.deadline },
    ]);
    publish();
    await recordPhase();
    return deadline;
  };

  const endPhase = async (phase: InstallationPhase, end: PhaseEnd) => {
    // Ended: a markActive from now on concerns no state call of this phase (an interrupted install keeps its phase name).
    run.stateCallBegun = false;
    run.completedAtTalkdesk = false;
    const last = state.history[state.history.length - 1];
    const now = new Date().toISOString();
    if (last && !last.endedAt) {
      last.endedAt = now;
      Object.assign(last, end);
      if (last.eventId) markHandled(state, last.eventId);
    } else {
      // Ended with no phase of its own running (an operator reject, a repair by reconciliation): still on record.
      state.history = keepLast([...state.history, { phase, startedAt: now, endedAt: now, ...end }]);
    }
    state.phase = phase;
    state.deadline = undefined;
    state.currentStep = undefined;
    state.attempts = 0;
    publish();
    await recordPhase();
  };

  return {
    state,
    options,
    installationId,
    workflowId,
    acts,
    withHeartbeat,
    steps,
    phases: new PhaseRunner(() => patched(INTERRUPT_AT_PHASE_START)),
    run,
    patched,
    describe,
    publish,
    keepError(message: string) {
      state.lastError = message;
      describe();
    },
    step,
    storeStep,
    stateCall,
    recordPhase,
    beginPhase,
    endPhase,
    talkdeskRef,
    canCallTalkdesk: () => Boolean(state.activeClientId && state.appId && state.links.root),
  };
}
