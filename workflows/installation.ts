import {
  ActivityCancellationType,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { createActivities } from '../activities';
import {
  eventSignal,
  reconcileSignal,
  rejectUpdate,
  retryNowUpdate,
  stateQuery,
  type InstallationPhase,
  type InstallationView,
  type LifecycleEvent,
  type ReconcileAction,
} from './definitions';
import type { StateCallInput } from './activity-types';
import { withDefaults, type InstallationOptions } from './options';
import { InstallationPhase as PhaseAttr, TalkdeskAccountId, TalkdeskAccountName, TalkdeskAppId } from './search-attributes';
import {
  FINAL_PHASES,
  IN_PROGRESS_PHASES,
  enqueue,
  initialState,
  isSuperseded,
  keepLast,
  markApplied,
  markHandled,
  restoreHandled,
  recordIgnored,
  toView,
  uninstallQueued,
  type InstallationState,
} from './state';
import { PhaseRunner, StepRunner } from './steps';

type Activities = ReturnType<typeof createActivities>;

/** Interrupt reason when reconciliation learns Talkdesk completed the phase. */
const MARK_ACTIVE = 'reconciliation: completed at Talkdesk';
/**
 * Patch: an operator reject takes a queued install out of the queue and imports
 * the install's credentials when they were not yet, to send the rejection.
 * Histories recorded before it replay the old path.
 */
const OPERATOR_REJECT_USES_INSTALL_EVENT = 'operator-reject-uses-install-event';

export interface InstallationInput {
  installationId: string;
  options?: Partial<InstallationOptions>;
  /** The whole state, handed over by continue-as-new. */
  carried?: InstallationState;
}

/**
 * One workflow per Talkdesk installation (id `installation-<installation_id>`):
 * applies lifecycle events in `created_at` order, one phase at a time, for the
 * life of the installation, and completes when it is uninstalled.
 */
export async function installationWorkflow(input: InstallationInput): Promise<InstallationView> {
  const options = withDefaults(input.options);
  const state: InstallationState = input.carried ?? initialState(input.installationId);
  const { workflowId } = workflowInfo();
  const installationId = state.installationId;
  const base: ActivityOptions = { startToCloseTimeout: options.activityTimeoutMs, retry: { maximumAttempts: 1 } };
  const acts = proxyActivities<Activities>(base);
  // Provisioning and updates write many documents: when an uninstall interrupts them, wait
  // until the activity has really stopped, so the undo that follows cannot race its writes.
  const withHeartbeat: ActivityOptions = {
    ...base,
    heartbeatTimeout: options.heartbeatTimeoutMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
  const phases = new PhaseRunner();
  let pendingReject: string | undefined;
  let pendingReconcile: ReconcileAction | undefined;
  let handledThisRun = 0;
  let graceUntil: number | undefined;
  /** The app.installed event this run began, so that a reject can import its credentials if the install had not yet. */
  let installEvent: LifecycleEvent | undefined;

  const describe = () => {
    const parts = [`Phase: ${state.phase}.`];
    if (state.currentStep) parts.push(`Now: ${state.currentStep}${state.attempts > 1 ? ` (attempt ${state.attempts})` : ''}.`);
    if (state.lastError) parts.push(`Last error: ${state.lastError}.`);
    if (state.deadline) parts.push(`Deadline: ${state.deadline}.`);
    if (state.queue.length) parts.push(`Waiting events: ${state.queue.map((e) => e.type).join(', ')}.`);
    else if (!IN_PROGRESS_PHASES.includes(state.phase)) parts.push('Waiting for the next Talkdesk event.');
    setCurrentDetails(parts.join('\n'));
  };

  const steps = new StepRunner(state, options, () => describe());

  const publish = () => {
    const attrs: SearchAttributeUpdatePair[] = [{ key: PhaseAttr, value: state.phase }];
    if (state.accountId) attrs.push({ key: TalkdeskAccountId, value: state.accountId });
    if (state.accountName) attrs.push({ key: TalkdeskAccountName, value: state.accountName });
    if (state.appId) attrs.push({ key: TalkdeskAppId, value: state.appId });
    upsertSearchAttributes(attrs);
    describe();
  };

  /** Runs one activity as a step with the workflow's retry loop and a summary for the UI. */
  /** Runs an activity under the workflow's retry loop; `args` may depend on the attempt number. */
  const step = <K extends keyof Activities>(
    description: string,
    name: K,
    args: Parameters<Activities[K]>[0] | ((attempt: number) => Parameters<Activities[K]>[0]),
    opts: ActivityOptions = base,
  ): Promise<Awaited<ReturnType<Activities[K]>>> =>
    steps.run(description, (attempt) => {
      describe();
      const fn = acts[name] as unknown as {
        executeWithOptions(o: ActivityOptions, a: unknown[]): Promise<Awaited<ReturnType<Activities[K]>>>;
      };
      const input = typeof args === 'function' ? args(attempt) : args;
      return fn.executeWithOptions({ ...opts, summary: description }, [input]);
    });

  /**
   * The state call that concludes an operation at Talkdesk. A retry reads
   * Talkdesk's state first (checkFirst), so an approval whose answer was lost
   * (timeout, worker killed) is not sent a second time.
   */
  const stateCall = (description: string, call: Pick<StateCallInput, 'state' | 'reason' | 'concludes'>) =>
    step(description, 'setInstallationState', (attempt) => ({ ...talkdeskRef(), ...call, checkFirst: attempt > 1 }));

  const recordPhase = () =>
    step('record the phase in the partner store', 'recordInstallation', {
      installationId,
      workflowId,
      appId: state.appId ?? '',
      accountId: state.accountId,
      accountName: state.accountName,
      phase: state.phase,
      activeClientId: state.activeClientId,
      lastEventAt: state.lastAppliedAt,
      handledEventIds: state.handledEventIds,
      links: state.links,
    });

  const beginPhase = async (phase: InstallationPhase, event: LifecycleEvent): Promise<number> => {
    const deadline = Date.parse(event.createdAt) + options.phaseTimeoutMs;
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

  const endPhase = async (phase: InstallationPhase, outcome: string) => {
    const last = state.history[state.history.length - 1];
    const now = new Date().toISOString();
    if (last && !last.endedAt) {
      last.endedAt = now;
      last.outcome = outcome;
      if (last.eventId) markHandled(state, last.eventId);
    } else {
      // Ended with no phase of its own running (an operator reject, a repair by reconciliation): still on record.
      state.history = keepLast([...state.history, { phase, startedAt: now, endedAt: now, outcome }]);
    }
    state.phase = phase;
    state.deadline = undefined;
    state.currentStep = undefined;
    state.attempts = 0;
    publish();
    await recordPhase();
  };

  /** Keys the partner's call by the Talkdesk event (the input carries ids only, so no command changes). */
  const partnerEvent = (event?: LifecycleEvent) => (event ? { eventId: event.eventId, occurredAt: event.createdAt } : {});

  const talkdeskRef = () => ({
    installationId,
    appId: state.appId ?? '',
    clientId: state.activeClientId ?? '',
    rootUrl: state.links.root ?? '',
  });

  const canCallTalkdesk = () => Boolean(state.activeClientId && state.appId && state.links.root);

  /** Undoes what an install provisioned; the account's settings stay for a reinstall. */
  const undoProvisioning = async (event?: LifecycleEvent) => {
    await step('undo the provisioning', 'undoProvisioning', { installationId, accountId: state.accountId, ...partnerEvent(event) });
  };

  const destroyCredentials = async () => {
    await step('destroy the credentials', 'destroyCredentials', { installationId });
    state.retiring = [];
  };

  /** Takes an install's facts and imports its credentials as the active set, outside a normal install. */
  const adoptInstallCredentials = async (event: LifecycleEvent, description: string) => {
    state.appId = event.appId;
    state.accountId = event.accountId ?? state.accountId;
    state.accountName = event.accountName ?? state.accountName;
    state.links = { ...state.links, ...event.links };
    const creds = await step(description, 'importCredentials', { installationId, eventId: event.eventId, activate: true });
    state.activeClientId = creds.clientId;
  };

  /** `importFrom`: an install whose credentials were not imported yet; they are imported to send the rejection with. */
  const rejectAtTalkdesk = async (reason: string, deadline: number, importFrom?: LifecycleEvent) => {
    if (!canCallTalkdesk() && !importFrom) return 'not sent: no usable credentials';
    const sent = await phases.run(deadline, async () => {
      if (!canCallTalkdesk() && importFrom) await adoptInstallCredentials(importFrom, 'import the credentials to send the rejection with');
      await stateCall('reject the installation at Talkdesk', { state: 'reject', reason });
    });
    return sent.kind === 'done' ? 'sent' : `not sent (${sent.kind})`;
  };

  const runInstall = async (event: LifecycleEvent) => {
    installEvent = event;
    state.appId = event.appId;
    state.accountId = event.accountId ?? state.accountId;
    state.accountName = event.accountName ?? state.accountName;
    state.links = { ...state.links, ...event.links };
    const deadline = await beginPhase('installing', event);
    const outcome = await phases.run(deadline, async () => {
      const creds = await step('import the credentials from the event', 'importCredentials', {
        installationId,
        eventId: event.eventId,
        activate: true,
      });
      state.activeClientId = creds.clientId;
      await step('obtain an access token', 'obtainToken', { installationId, clientId: creds.clientId });
      const prov = await step(
        'provision the partner account and its users',
        'provisionAccount',
        { ...talkdeskRef(), accountName: state.accountName ?? '', ...partnerEvent(event) },
        withHeartbeat,
      );
      state.accountId = prov.accountId;
      state.accountName = prov.accountName;
      state.settingsRestored = prov.settingsRestored;
      publish();
      await stateCall('approve the installation at Talkdesk', { state: 'approve', concludes: 'install' });
    });
    switch (outcome.kind) {
      case 'done':
        return endPhase('active', state.settingsRestored ? 'approved (settings restored)' : 'approved');
      case 'failed': {
        const reason = `Provisioning failed: ${outcome.error.message}`;
        const sent = await rejectAtTalkdesk(reason, deadline);
        await undoProvisioning(event);
        await destroyCredentials();
        await endPhase('rejected', `${reason} (rejection ${sent})`);
        // Kept visible in the state query: the reason the installation ended here.
        state.lastError = reason;
        return;
      }
      case 'expired':
        await undoProvisioning(event);
        await destroyCredentials();
        return endPhase('expired', 'not approved within seven days of the event: provisioning undone');
      case 'interrupted':
        // Talkdesk says the install completed: keep what was provisioned.
        if (outcome.reason === MARK_ACTIVE) return endPhase('active', 'completed at Talkdesk: marked active by reconciliation');
        await undoProvisioning(event);
        return endPhase(state.phase, `interrupted by ${outcome.reason}: provisioning undone`);
    }
  };

  const runUpdate = async (event: LifecycleEvent) => {
    const users = (event.facts.users ?? {}) as { adding?: string[]; removing?: string[] };
    const subscription = event.facts.subscription as Record<string, unknown> | undefined;
    state.links = { ...state.links, ...event.links };
    const deadline = await beginPhase('updating', event);
    let applied: Awaited<ReturnType<Activities['applyUpdate']>> | undefined;
    const outcome = await phases.run(deadline, async () => {
      applied = await step(
        'apply the update (users and subscription)',
        'applyUpdate',
        {
          ...talkdeskRef(),
          accountId: state.accountId ?? '',
          usersAdding: users.adding ?? [],
          usersRemoving: users.removing ?? [],
          subscription,
          ...partnerEvent(event),
        },
        withHeartbeat,
      );
      await stateCall('approve the update at Talkdesk', { state: 'approve', concludes: 'update' });
    });
    const revert = async () => {
      if (applied) await step('revert the update', 'revertUpdate', { installationId, accountId: state.accountId ?? '', applied, ...partnerEvent(event) });
    };
    switch (outcome.kind) {
      case 'done':
        if (subscription) state.subscription = subscription;
        return endPhase('active', 'update approved');
      case 'failed': {
        const reason = `Update failed: ${outcome.error.message}`;
        await revert();
        const sent = await rejectAtTalkdesk(reason, deadline);
        return endPhase('active', `${reason} (rejection ${sent}); account kept its previous state`);
      }
      case 'expired':
        await revert();
        return endPhase('active', 'expired: not approved within seven days; account kept its previous state');
      case 'interrupted':
        if (outcome.reason === MARK_ACTIVE) return endPhase('active', 'completed at Talkdesk: marked active by reconciliation');
        await revert();
        return endPhase('active', `interrupted by ${outcome.reason}: update reverted`);
    }
  };

  const runRotation = async (event: LifecycleEvent) => {
    const compromised = event.facts.compromised === true;
    const previous = state.activeClientId;
    state.links = { ...state.links, ...event.links };
    const deadline = Date.parse(event.createdAt) + options.phaseTimeoutMs;
    let newClientId: string | undefined;
    const outcome = await phases.run(deadline, async () => {
      const creds = await step('import the rotated credentials', 'importCredentials', {
        installationId,
        eventId: event.eventId,
        activate: false,
      });
      newClientId = creds.clientId;
      await step('prove the new credentials by getting a token', 'obtainToken', { installationId, clientId: creds.clientId });
      await step('acknowledge the rotation at Talkdesk', 'acknowledgeCredentials', { ...talkdeskRef(), clientId: creds.clientId });
      const retireAt = new Date(Date.now() + (compromised ? 0 : options.rotationGraceMs)).toISOString();
      await step('switch to the new credentials', 'switchCredentials', {
        installationId,
        clientId: creds.clientId,
        previousClientId: previous,
        retireAt,
        destroyPreviousNow: compromised,
      });
      state.activeClientId = creds.clientId;
      if (previous && previous !== creds.clientId && !compromised) {
        state.retiring = [...state.retiring, { clientId: previous, retireAt }];
      }
    });
    state.currentStep = undefined;
    if (outcome.kind === 'done') {
      state.history = keepLast([
        ...state.history,
        {
          phase: state.phase,
          eventId: event.eventId,
          startedAt: event.createdAt,
          endedAt: new Date().toISOString(),
          outcome: compromised ? 'credentials rotated (compromised: old set destroyed at once)' : 'credentials rotated',
        },
      ]);
    } else if (newClientId && newClientId !== state.activeClientId) {
      await step('destroy the unproven rotated credentials', 'destroyCredentials', { installationId, clientId: newClientId });
      recordIgnored(state, event.eventId, `rotation not completed (${outcome.kind})`);
    }
    markHandled(state, event.eventId);
    publish();
    await recordPhase();
  };

  const runTrial = async (event: LifecycleEvent) => {
    const f = event.facts as Record<string, string | undefined>;
    state.trial =
      event.type === 'app.trial_started'
        ? { startedAt: event.createdAt, expiresAt: f.expires_at }
        : { ...state.trial, expiresAt: f.expires_at ?? state.trial?.expiresAt, endedAt: f.ended_at, endedReason: f.ended_reason, endedBy: f.ended_by };
    await step('record the trial on the account', 'recordTrial', {
      installationId,
      accountId: state.accountId,
      trial: state.trial,
      eventType: event.type,
      fields: event.facts,
      ...partnerEvent(event),
    });
    describe();
  };

  const runUninstall = async (event: LifecycleEvent) => {
    state.links = { ...state.links, ...event.links };
    const deadline = await beginPhase('uninstalling', event);
    const outcome = await phases.run(deadline, async () => {
      await step('deprovision the partner account', 'deprovisionAccount', { installationId, accountId: state.accountId, ...partnerEvent(event) });
      if (canCallTalkdesk()) {
        await stateCall('acknowledge the uninstall at Talkdesk', {
          state: 'approve',
          concludes: 'uninstall',
        });
      }
    });
    let note = canCallTalkdesk() ? 'acknowledged' : 'no credentials were ever received: deprovisioned locally';
    if (outcome.kind !== 'done') {
      // Talkdesk deprovisions an unacknowledged uninstall after seven days: so do we.
      await step('deprovision the partner account', 'deprovisionAccount', { installationId, accountId: state.accountId, ...partnerEvent(event) });
      note =
        outcome.kind === 'expired'
          ? 'not acknowledged within seven days: deprovisioned locally'
          : `acknowledgement failed (${outcome.kind === 'failed' ? outcome.error.message : outcome.reason}): deprovisioned locally`;
    }
    await destroyCredentials();
    state.activeClientId = undefined;
    await endPhase('uninstalled', note);
  };

  const runOperatorReject = async (reason: string) => {
    const deadline = Date.now() + options.phaseTimeoutMs;
    let importFrom: LifecycleEvent | undefined;
    if (patched(OPERATOR_REJECT_USES_INSTALL_EVENT)) {
      // An install still queued is the one rejected: it must not run afterwards.
      const queued = state.queue.find((e) => e.type === 'app.installed');
      if (queued) {
        state.queue = state.queue.filter((e) => e !== queued);
        recordIgnored(state, queued.eventId, 'install rejected by an operator before it began');
        markHandled(state, queued.eventId);
      }
      // Credentials not imported yet (the first seconds of an install): import them so Talkdesk hears of the rejection.
      if (!state.activeClientId) importFrom = queued ?? installEvent;
    }
    const sent = await rejectAtTalkdesk(`Rejected by operator: ${reason}`, deadline, importFrom);
    await undoProvisioning(installEvent);
    await destroyCredentials();
    await endPhase('rejected', `rejected by an operator: ${reason} (rejection ${sent})`);
  };

  /** Talkdesk ended the installation (revoked, rejected, timed out) while it is live here. */
  const runReconcile = async (action: ReconcileAction) => {
    if (action.action === 'markActive') {
      if (state.phase === 'installing' || state.phase === 'updating') {
        await endPhase('active', 'completed at Talkdesk: marked active by reconciliation');
      }
      return;
    }
    if (FINAL_PHASES.includes(state.phase)) return;
    await step('deprovision the partner account', 'deprovisionAccount', { installationId, accountId: state.accountId });
    await destroyCredentials();
    state.activeClientId = undefined;
    const phase: InstallationPhase =
      action.talkdeskState === 'revoked' ? 'uninstalled' : action.talkdeskState === 'rejected' ? 'rejected' : 'expired';
    state.history = keepLast([
      ...state.history,
      { phase, startedAt: new Date().toISOString(), outcome: `Talkdesk reports ${action.talkdeskState}: deprovisioned by reconciliation` },
    ]);
    await endPhase(phase, `Talkdesk reports ${action.talkdeskState}: deprovisioned by reconciliation`);
  };

  const apply = async (event: LifecycleEvent) => {
    markApplied(state, event);
    handledThisRun += 1;
    // Counted once done (so the state query never shows it applied while it runs), and not when ignored.
    if (await applyEvent(event)) state.appliedEvents += 1;
    markHandled(state, event.eventId);
  };

  /** Applies one event; false when it was recorded as ignored instead. */
  const applyEvent = async (event: LifecycleEvent): Promise<boolean> => {
    const ignore = (reason: string) => {
      recordIgnored(state, event.eventId, reason);
      return false;
    };
    switch (event.type) {
      case 'app.installed':
        if (uninstallQueued(state)) {
          // Keep the credentials: the queued uninstall must still be acknowledged with them.
          await adoptInstallCredentials(event, 'import the credentials from the event');
          return ignore('install superseded by a queued uninstall');
        }
        await runInstall(event);
        return true;
      case 'app.updated':
        if (uninstallQueued(state)) return ignore('update superseded by a queued uninstall');
        if (state.phase !== 'active') return ignore(`update ignored: installation is ${state.phase}`);
        await runUpdate(event);
        return true;
      case 'app.credentials_rotated':
        if (uninstallQueued(state)) return ignore('rotation superseded by a queued uninstall');
        if (FINAL_PHASES.includes(state.phase) || state.phase === 'new') {
          return ignore(`rotation ignored: installation is ${state.phase}`);
        }
        await runRotation(event);
        return true;
      case 'app.trial_started':
      case 'app.trial_ended':
        await runTrial(event);
        return true;
      case 'app.uninstalled':
        await runUninstall(event);
        return true;
    }
  };

  setHandler(eventSignal, (event) => {
    if (event.installationId !== installationId) {
      recordIgnored(state, event.eventId, 'event for another installation');
      return;
    }
    if (!enqueue(state, event)) {
      recordIgnored(state, event.eventId, 'duplicate delivery');
      return;
    }
    if (event.type === 'app.uninstalled' && (state.phase === 'installing' || state.phase === 'updating')) {
      phases.interrupt('uninstall');
    }
    describe();
  });

  setHandler(stateQuery, () => toView(state, workflowId));

  setHandler(reconcileSignal, (action) => {
    pendingReconcile = action;
    if (action.action === 'markActive') phases.interrupt(MARK_ACTIVE);
    else phases.interrupt(`Talkdesk reporting ${action.talkdeskState}`);
    describe();
  });

  setHandler(
    retryNowUpdate,
    ({ reason }) => {
      state.operatorActions = keepLast([...state.operatorActions, { action: 'retryNow', at: new Date().toISOString(), reason }]);
      steps.requestRetryNow();
      return toView(state, workflowId);
    },
    {
      validator: (_request: { reason?: string }) => {
        if (!IN_PROGRESS_PHASES.includes(state.phase) && !phases.running) {
          throw new Error(`Nothing to retry: the installation is ${state.phase}, no phase is running.`);
        }
      },
    },
  );

  setHandler(
    rejectUpdate,
    ({ reason }) => {
      state.operatorActions = keepLast([...state.operatorActions, { action: 'reject', at: new Date().toISOString(), reason }]);
      pendingReject = reason;
      phases.interrupt('operator reject');
      return toView(state, workflowId);
    },
    {
      validator: ({ reason }) => {
        if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > 500) {
          throw new Error('A reason of 1 to 500 characters is required to reject an installation.');
        }
        if (FINAL_PHASES.includes(state.phase) || state.phase === 'uninstalling') {
          throw new Error(`Cannot reject: the installation is already ${state.phase}.`);
        }
      },
    },
  );

  if (!input.carried) {
    // A new run for an installation seen before: never re-apply what it already applied.
    const stored = await step('load the stored installation', 'loadInstallation', { installationId });
    if (stored) {
      state.lastAppliedAt = stored.lastEventAt;
      restoreHandled(state, stored.handledEventIds ?? []);
      const phase = stored.phase as InstallationPhase;
      if (FINAL_PHASES.includes(phase)) state.phase = phase;
      else if (phase !== 'new') {
        // Resumed by reconciliation after its workflow was lost: restore what it had, in the
        // phase before any unfinished one (the event that started that phase is handed over again).
        state.phase = phase === 'installing' ? 'new' : 'active';
        state.appId = stored.appId;
        state.accountId = stored.accountId;
        state.accountName = stored.accountName;
        state.activeClientId = stored.activeClientId;
        state.links = stored.links ?? {};
      }
    }
  }
  publish();

  const nextRetirement = () => Math.min(...state.retiring.map((r) => Date.parse(r.retireAt)));
  const shouldContinueAsNew = () => workflowInfo().continueAsNewSuggested || handledThisRun >= options.maxEventsPerRun;

  for (;;) {
    const waitMs = state.retiring.length ? Math.max(1, nextRetirement() - Date.now()) : undefined;
    const ready = () =>
      state.queue.length > 0 || pendingReject !== undefined || pendingReconcile !== undefined || shouldContinueAsNew();
    if (FINAL_PHASES.includes(state.phase) && state.queue.length === 0 && pendingReject === undefined) break;
    if (waitMs === undefined) await condition(ready);
    else await condition(ready, waitMs);

    for (const due of state.retiring.filter((r) => Date.parse(r.retireAt) <= Date.now())) {
      await step('destroy retired credentials', 'destroyCredentials', { installationId, clientId: due.clientId });
      state.retiring = state.retiring.filter((r) => r.clientId !== due.clientId);
      describe();
    }

    if (pendingReconcile !== undefined) {
      const action = pendingReconcile;
      pendingReconcile = undefined;
      await runReconcile(action);
      continue;
    }

    if (pendingReject !== undefined) {
      const reason = pendingReject;
      pendingReject = undefined;
      await runOperatorReject(reason);
      continue;
    }

    if (shouldContinueAsNew() && !phases.running) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof installationWorkflow>({ installationId, options: input.options, carried: state });
    }

    const head = state.queue[0];
    if (!head) continue;
    if (state.phase === 'new' && head.type !== 'app.installed' && !state.activeClientId) {
      // Events can arrive out of order: give the install (and its credentials) time to arrive.
      graceUntil ??= Date.now() + options.orderingGraceMs;
      const remaining = graceUntil - Date.now();
      if (remaining > 0) {
        state.currentStep = 'waiting for the app.installed event (events arrived out of order)';
        describe();
        await condition(() => state.queue[0]?.type === 'app.installed', remaining);
        state.currentStep = undefined;
        continue;
      }
    }
    const event = state.queue.shift() as LifecycleEvent;
    if (isSuperseded(state, event)) {
      recordIgnored(state, event.eventId, `${event.type} older than an event already applied`);
      markHandled(state, event.eventId);
      describe();
      continue;
    }
    await apply(event);
  }

  await condition(allHandlersFinished);
  return toView(state, workflowId);
}
