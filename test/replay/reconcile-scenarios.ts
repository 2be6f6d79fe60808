import { reconcileSignal, workflowIdFor } from '../../workflows/definitions';
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
  sys.simulator.failNext('installationState', 1_000, { status: 500 });
  try {
    await deliver(sys.simulator.uninstall(id));
    await eventually('the uninstall acknowledgement retrying', async () => {
      const v = await queryState(sys.client, id);
      return v.phase === 'uninstalling' && v.attempts >= 2 && /acknowledge/.test(v.currentStep ?? '') ? v : undefined;
    });
    await sys.client.workflow.getHandle(workflowIdFor(id)).signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
    await lastSignalHandled(sys, id);
  } finally {
    sys.simulator.clearFaults();
  }
  return id;
};

export const RECONCILE_SCENARIOS: Record<string, Scenario> = {
  // Recorded with the code before the patch: the markActive interrupted the uninstall (never acknowledged).
  'mark-active-during-uninstall-before-patch': { run: markActiveDuringUninstall },
  // Patch `mark-active-only-install-or-update`: the markActive is ignored, the uninstall acknowledged.
  'mark-active-during-uninstall': { run: markActiveDuringUninstall },
};
