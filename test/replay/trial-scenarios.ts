import type { TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';
import { uninstallSignalled } from './start-gate-scenarios';
import type { Deliver, Scenario } from './timer-scenarios';

/**
 * An active installation whose trial start cannot be recorded (the store write throws): `then` runs while the
 * trial step backs off, then the store comes back (a trial step still retrying records at its next attempt).
 */
async function whileTrialRecordFails(sys: TestSystem, deliver: Deliver, then: (id: string) => Promise<void>): Promise<string> {
  const life = sys.simulator.createInstallation({ licensedUsers: 1 });
  const id = life.installation.id;
  await deliver(life.event);
  await waitForPhase(sys.client, id, 'active');
  const accounts = sys.store.accounts;
  const recordTrial = accounts.recordTrial.bind(accounts);
  let down = true;
  accounts.recordTrial = async (...args: Parameters<typeof recordTrial>) => {
    if (down) throw new Error('partner store unavailable (recorded scenario)');
    return recordTrial(...args);
  };
  try {
    await deliver(sys.simulator.startTrial(id, new Date(Date.now() + 86_400_000)));
    await eventually('the trial record retrying', async () => {
      const v = await queryState(sys.client, id);
      return /record the trial/.test(v.lastError ?? '') && v.attempts >= 2 ? v : undefined;
    });
    await then(id);
  } finally {
    down = false;
  }
  return id;
}

/**
 * The uninstall arrives while the trial record retries. Before patch `trial-record-interruptible` the trial step
 * retried on (outside any phase) until it was recorded, and the uninstall waited behind it; under the patch the
 * uninstall interrupts it.
 */
const uninstallDuringTrialRecord = (sys: TestSystem, deliver: Deliver): Promise<string> =>
  whileTrialRecordFails(sys, deliver, async (id) => {
    await deliver(sys.simulator.uninstall(id));
    await uninstallSignalled(sys, id);
  });

/**
 * Patch trial-superseded-by-queued-uninstall (decided at start by patches-decided-at-start-4): the trial start is
 * interrupted by the uninstall, with a trial end of the same second queued ahead of it. Under the patch the trial
 * end is ignored and the uninstall runs next; before it, the trial end's record ran first (the store back by then).
 */
const trialEndQueuedBeforeUninstall = (sys: TestSystem, deliver: Deliver): Promise<string> =>
  whileTrialRecordFails(sys, deliver, async (id) => {
    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    await deliver(sys.simulator.endTrial(id, { reason: 'app_uninstalled', by: 'user' }, { createdAt: at }));
    await eventually('the trial end queued', async () => {
      const v = await queryState(sys.client, id);
      return v.pendingEvents.some((p) => p.startsWith('app.trial_ended')) ? v : undefined;
    });
    await deliver(sys.simulator.uninstall(id, undefined, { createdAt: at }));
    await uninstallSignalled(sys, id);
  });

export const TRIAL_SCENARIOS: Record<string, Scenario> = {
  'trial-end-queued-before-uninstall-before-patch': { run: trialEndQueuedBeforeUninstall },
  'trial-end-queued-before-uninstall': { run: trialEndQueuedBeforeUninstall },
  // Recorded with the code before the patch: the trial step retried until recorded, then the uninstall.
  'uninstall-during-trial-record-before-patch': { run: uninstallDuringTrialRecord },
  // Patch `trial-record-interruptible`: the uninstall interrupts the retrying trial step.
  'uninstall-during-trial-record': { run: uninstallDuringTrialRecord },
};
