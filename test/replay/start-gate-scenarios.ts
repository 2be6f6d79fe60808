import { workflowIdFor } from '../../workflows/definitions';
import type { TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';
import type { Deliver, Scenario } from './timer-scenarios';

/**
 * An update whose phase record fails once (the store write throws) after the uninstall's
 * signal is in the workflow's history: the uninstall reaches the workflow during the
 * record's backoff, between `beginPhase` and the update's body. Under patch
 * `interrupt-at-phase-start` the update is stopped at its start gate; before it, the
 * update ran to its end first.
 */
const uninstallAtUpdateStart = async (sys: TestSystem, deliver: Deliver): Promise<string> => {
  const life = sys.simulator.createInstallation({ licensedUsers: 2 });
  const id = life.installation.id;
  await deliver(life.event);
  await waitForPhase(sys.client, id, 'active');

  const installations = sys.store.installations;
  const record = installations.record.bind(installations);
  let reached: () => void = () => undefined;
  const atGap = new Promise<void>((r) => (reached = r));
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  let failed = false;
  installations.record = async (...args: Parameters<typeof record>) => {
    if (args[1].phase === 'updating' && !failed) {
      failed = true;
      reached();
      await released;
      throw new Error('partner store unavailable (recorded scenario)');
    }
    return record(...args);
  };
  try {
    await deliver(sys.simulator.updateInstallation(id, { addUsers: 1 }));
    await atGap;
    await deliver(sys.simulator.uninstall(id));
    await uninstallSignalled(sys, id);
  } finally {
    release();
    // The failed write is the only one changed: every later record goes to the store as usual.
  }
  return id;
};

/** Waits until the installation's workflow history holds the `app.uninstalled` signal. */
export async function uninstallSignalled(sys: TestSystem, id: string): Promise<void> {
  const handle = sys.client.workflow.getHandle(workflowIdFor(id));
  await eventually('the uninstall signal in the history', async () => {
    const history = await handle.fetchHistory();
    const signalled = (history.events ?? []).flatMap((e) => e.workflowExecutionSignaledEventAttributes?.input?.payloads ?? []);
    return (
      signalled.some((p) =>
        Buffer.from(p.data ?? [])
          .toString('utf8')
          .includes('app.uninstalled'),
      ) || undefined
    );
  });
}

export const START_GATE_SCENARIOS: Record<string, Scenario> = {
  // Recorded with the code before the patch: the update ran to its end, then the uninstall.
  'uninstall-at-update-start-before-gate': { run: uninstallAtUpdateStart },
  // Patch `interrupt-at-phase-start`: the update is interrupted at its start gate, then the uninstall.
  'uninstall-at-update-start': { run: uninstallAtUpdateStart },
};
