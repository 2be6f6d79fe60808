import { reconcileSignal, workflowIdFor } from '../../workflows/definitions';
import { eventually, queryState, waitForPhase } from '../support/waits';
import type { Scenario } from './timer-scenarios';

/**
 * Scenarios recorded with the seventeenth generation (patches-decided-at-start-17, decided by the one marker of the
 * first seventeen): an uninstall of the end reconciliation found (Talkdesk revoked), ignored; a first install queued
 * behind an older trial start, taken at once.
 */
export const GENERATION_17_SCENARIOS: Record<string, Scenario> = {
  // Patch first-install-taken-ahead: a trial start dated a second before its install is delivered first (the run waits
  // for an install), then the install: taken at once, the trial then recorded on the new account. An uninstall ends it.
  'first-install-taken-ahead-of-trial': {
    run: async (sys, deliver) => {
      const now = Date.now();
      const life = sys.simulator.createInstallation({ licensedUsers: 1 }, { createdAt: new Date(now - 1_000) });
      const id = life.installation.id;
      await deliver(sys.simulator.startTrial(id, new Date(now + 86_400_000), { createdAt: new Date(now - 2_000) }));
      await eventually('the trial waiting for its install', async () => {
        const v = await queryState(sys.client, id);
        return /waiting for the app\.installed/.test(v.currentStep ?? '') ? v : undefined;
      });
      await deliver(life.event);
      await eventually('the install and the trial applied', async () => {
        const v = await queryState(sys.client, id);
        return v.phase === 'active' && v.appliedEvents === 2 && !v.currentStep ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
  // Patch revoked-state-ends-its-life: Talkdesk uninstalls (the event's delivery waits), reconciliation reads `revoked`
  // and signals the deprovision with the state's time; the uninstall lands in the same workflow task (the worker
  // stopped meanwhile), queued behind the deprovision: ignored as that end's, no second uninstall phase.
  'revoked-end-takes-its-uninstall': {
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation({ licensedUsers: 1 });
      const id = life.installation.id;
      await deliver(life.event);
      await waitForPhase(sys.client, id, 'active');
      const uninstall = sys.simulator.uninstall(id);
      sys.simulator.setInstallationState(id, 'revoked');
      const endedAt = new Date().toISOString();
      await sys.stopWorker();
      await sys.client.workflow
        .getHandle(workflowIdFor(id))
        .signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked', reason: 'recorded revoke', endedAt });
      await deliver(uninstall);
      await sys.startWorker();
      await eventually('the uninstall ignored', async () => {
        const v = await queryState(sys.client, id);
        return v.ignoredEvents.some((e) => e.eventId === uninstall.id) ? v : undefined;
      });
      return id;
    },
  },
};
