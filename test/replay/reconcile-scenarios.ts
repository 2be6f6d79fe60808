import { reconcileSignal, workflowIdFor, type InstallationPhase, type ReconcileAction } from '../../workflows/definitions';
import type { TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';
import type { Deliver, Scenario } from './timer-scenarios';

/** Waits until a workflow task completed after the installation's last signal: the workflow has handled it. */
async function lastSignalHandled(sys: TestSystem, id: string): Promise<void> {
  const handle = sys.client.workflow.getHandle(workflowIdFor(id));
  await eventually('the last signal handled by a workflow task', async () => {
    const events = (await handle.fetchHistory()).events ?? [];
    const signal = events.findLastIndex((e) => e.workflowExecutionSignaledEventAttributes);
    return (signal >= 0 && events.slice(signal).some((e) => e.workflowTaskCompletedEventAttributes)) || undefined;
  });
}

/**
 * Delivers `event` with Talkdesk answering 500 on `route`, and once its phase retries a step
 * matching `step`, signals markActive (as a pass that read Talkdesk completed would) and waits
 * until the workflow has handled it; then Talkdesk answers again (`answerFirst`: before the signal).
 */
async function markActiveWhileRetrying(
  sys: TestSystem,
  deliver: Deliver,
  id: string,
  event: unknown,
  route: Parameters<TestSystem['simulator']['failNext']>[0],
  phase: InstallationPhase,
  step: RegExp,
  answerFirst = false,
): Promise<void> {
  sys.simulator.failNext(route, 1_000, { status: 500 });
  try {
    await deliver(event);
    await eventually(`the ${phase} phase retrying ${String(step)}`, async () => {
      const v = await queryState(sys.client, id);
      // Answering first, the scenario's backoff is long: its first failure is enough.
      const failed = answerFirst ? v.lastError !== undefined : v.attempts >= 2;
      return v.phase === phase && failed && step.test(v.currentStep ?? '') ? v : undefined;
    });
    if (answerFirst) sys.simulator.clearFaults();
    await sys.client.workflow.getHandle(workflowIdFor(id)).signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
    await lastSignalHandled(sys, id);
  } finally {
    sys.simulator.clearFaults();
  }
}

/**
 * A reconciliation pass read the installation while its install ran and found it completed at
 * Talkdesk; its markActive reaches the workflow after the install ended and while the uninstall's
 * acknowledgement is retrying (Talkdesk answering 500). Before patch
 * `mark-active-only-install-or-update` it interrupted the uninstall, which then ended
 * unacknowledged; under the patch it is ignored and the acknowledgement is sent.
 */
const markActiveDuringUninstall = async (sys: TestSystem, deliver: Deliver): Promise<string> => {
  const life = sys.simulator.createInstallation();
  const id = life.installation.id;
  await deliver(life.event);
  await waitForPhase(sys.client, id, 'active');
  await markActiveWhileRetrying(sys, deliver, id, sys.simulator.uninstall(id), 'installationState', 'uninstalling', /acknowledge/);
  return id;
};

/**
 * A reconciliation pass found an update completed at Talkdesk (another call concluded it) while the
 * update was still applying its users here (Talkdesk answering 500 to the user reads). Before patch
 * `mark-active-after-state-call` its markActive ended the update at once, its users never applied;
 * under the patch it is ignored until the update's state call begins: the update applies its users,
 * then approves (its state call finds the update completed, or concludes it).
 */
const markActiveBeforeUpdateStateCall = async (sys: TestSystem, deliver: Deliver): Promise<string> => {
  const life = sys.simulator.createInstallation();
  const id = life.installation.id;
  await deliver(life.event);
  await waitForPhase(sys.client, id, 'active');
  await markActiveWhileRetrying(sys, deliver, id, sys.simulator.updateInstallation(id, { addUsers: 1 }), 'users', 'updating', /apply/);
  await eventually('the update ended', async () => {
    const v = await queryState(sys.client, id);
    return v.phase === 'active' && v.history.at(-1)?.phase === 'updating' && v.history.at(-1)?.endedAt ? v : undefined;
  });
  // Uninstalled, so that the recorded run is complete.
  await deliver(sys.simulator.uninstall(id));
  return id;
};

/**
 * A reconciliation pass's stale read (it saw an earlier update completed) reaches the workflow as
 * markActive while the next update's approval is backing off (Talkdesk answering 500), that update
 * still pending at Talkdesk. Before patch `mark-active-retries-state-call` it ended the update at
 * once, its approval never sent (Talkdesk would time it out); under the patch the state call retries
 * at once, reads Talkdesk's state first and sends the approval the update still needs.
 */
/** A two-minute backoff: an approval sent within it was brought forward by the signal. */
const STALE_OPTIONS = { retryInitialMs: 120_000, retryMaxMs: 120_000 };
const staleMarkActiveDuringUpdateStateCall = async (sys: TestSystem, deliver: Deliver): Promise<string> => {
  const life = sys.simulator.createInstallation();
  const id = life.installation.id;
  await deliver(life.event);
  await waitForPhase(sys.client, id, 'active');
  const update = sys.simulator.updateInstallation(id, { addUsers: 1 });
  // Talkdesk answers again before the signal: only the signal can bring the next attempt before the backoff's end.
  await markActiveWhileRetrying(sys, deliver, id, update, 'installationState', 'updating', /approve the update/, true);
  await eventually('the update ended', async () => {
    const v = await queryState(sys.client, id);
    return v.phase === 'active' && v.history.at(-1)?.phase === 'updating' && v.history.at(-1)?.endedAt ? v : undefined;
  });
  // Uninstalled, so that the recorded run is complete.
  await deliver(sys.simulator.uninstall(id));
  return id;
};

/**
 * An operator signals reconcile by hand with a typo (`markactive`) on an active installation. Before patch
 * `reconcile-ignores-malformed` it deprovisioned the installation (the run ends `expired`); under the patch
 * it is ignored (so is a signal with no payload) and the installation is uninstalled so that the run completes.
 */
const malformedReconcile =
  (ignored: boolean) =>
  async (sys: TestSystem, deliver: Deliver): Promise<string> => {
    const life = sys.simulator.createInstallation();
    const id = life.installation.id;
    await deliver(life.event);
    await waitForPhase(sys.client, id, 'active');
    const handle = sys.client.workflow.getHandle(workflowIdFor(id));
    await handle.signal(reconcileSignal, { action: 'markactive', talkdeskState: 'completed' } as unknown as ReconcileAction);
    await lastSignalHandled(sys, id);
    if (!ignored) {
      await handle.result();
      return id;
    }
    await handle.signal(reconcileSignal, undefined as unknown as ReconcileAction);
    await lastSignalHandled(sys, id);
    await deliver(sys.simulator.uninstall(id));
    return id;
  };

/** The last phase of the installation's history, once it has ended. */
const lastPhaseEnded = (sys: TestSystem, id: string, count: number) =>
  eventually(`phase ${count} ended`, async () => {
    const v = await queryState(sys.client, id);
    return v.phase === 'active' && v.history.length === count && v.history.at(-1)?.endedAt ? v : undefined;
  });

/**
 * A pass judged an update timed out on the record of an earlier update (`seen` names it); its endUpdate reaches the
 * workflow while a newer update's approval is retrying (Talkdesk answering 500). Before patch
 * `reconcile-action-of-operation-seen` it ended the newer update (reverted, never approved); under it, it is ignored.
 */
const endUpdateOfAnEarlierUpdate = async (sys: TestSystem, deliver: Deliver): Promise<string> => {
  const life = sys.simulator.createInstallation();
  const id = life.installation.id;
  await deliver(life.event);
  await waitForPhase(sys.client, id, 'active');
  const first = sys.simulator.updateInstallation(id, { addUsers: 1 });
  await deliver(first);
  await lastPhaseEnded(sys, id, 2);
  sys.simulator.failNext('installationState', 1_000, { status: 500 });
  try {
    await deliver(sys.simulator.updateInstallation(id, { addUsers: 1 }));
    await eventually('the newer update retrying its approval', async () => {
      const v = await queryState(sys.client, id);
      return v.phase === 'updating' && v.lastError !== undefined && /approve the update/.test(v.currentStep ?? '') ? v : undefined;
    });
    const seen = { phase: 'updating' as const, phaseEventId: first.id };
    await sys.client.workflow.getHandle(workflowIdFor(id)).signal(reconcileSignal, { action: 'endUpdate', talkdeskState: 'timeout', seen });
    await lastSignalHandled(sys, id);
  } finally {
    sys.simulator.clearFaults();
  }
  await lastPhaseEnded(sys, id, 3);
  // Uninstalled, so that the recorded run is complete.
  await deliver(sys.simulator.uninstall(id));
  return id;
};

export const RECONCILE_SCENARIOS: Record<string, Scenario> = {
  // Recorded with the code before the patch: the endUpdate judged on an earlier update ended the newer one.
  'end-update-of-an-earlier-update-before-patch': { run: endUpdateOfAnEarlierUpdate },
  // Patch `reconcile-action-of-operation-seen`: ignored; the newer update approved.
  'end-update-of-an-earlier-update': { run: endUpdateOfAnEarlierUpdate },
  // Recorded with the code before the patch: the markActive interrupted the uninstall (never acknowledged).
  'mark-active-during-uninstall-before-patch': { run: markActiveDuringUninstall },
  // Patch `mark-active-only-install-or-update`: the markActive is ignored, the uninstall acknowledged.
  'mark-active-during-uninstall': { run: markActiveDuringUninstall },
  // Recorded with the code before the patch: the markActive ended the update before its users were applied.
  'mark-active-before-update-state-call-before-patch': { run: markActiveBeforeUpdateStateCall },
  // Patch `mark-active-after-state-call`: ignored until the state call; the users applied, the update approved.
  'mark-active-before-update-state-call': { run: markActiveBeforeUpdateStateCall },
  // Recorded with the code before the patch: a stale markActive ended the update, its approval never sent.
  'stale-mark-active-during-update-state-call-before-patch': { options: STALE_OPTIONS, run: staleMarkActiveDuringUpdateStateCall },
  // Patch `mark-active-retries-state-call`: the state call retries at once and approves the update.
  'stale-mark-active-during-update-state-call': { options: STALE_OPTIONS, run: staleMarkActiveDuringUpdateStateCall },
  // Recorded with the code before the patch: an operator's malformed signal deprovisioned the installation.
  'malformed-reconcile-before-patch': { run: malformedReconcile(false) },
  // Patch `reconcile-ignores-malformed`: the malformed signals are ignored; uninstalled later.
  'malformed-reconcile': { run: malformedReconcile(true) },
};
