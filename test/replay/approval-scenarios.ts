import { eventually, queryState, waitForPhase } from '../support/waits';
import type { Scenario } from './timer-scenarios';

/**
 * Scenarios recorded with the patches of "approvals tied to their operation" (issue 12):
 * `phase-deadline-margin` and `state-call-waits-for-cancellation`; and with `expired-phase-reads-talkdesk-last`.
 */
export const APPROVAL_SCENARIOS: Record<string, Scenario> = {
  // The install's approval keeps failing; the deadline (the margin before the "seven days") cancels the
  // state call, which heartbeats and is waited for: expired, provisioning undone.
  'state-call-deadline-margin': {
    options: { phaseTimeoutMs: 7_000, phaseMarginMs: 2_000 },
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation();
      sys.simulator.failNext('installationState', 1_000, { status: 500 });
      await deliver(life.event);
      return life.installation.id;
    },
  },
  // Patch expired-phase-reads-talkdesk-last (decided at start by patches-decided-at-start-7): the install's approval
  // lands but its answer comes too late, and Talkdesk's reads fail until the deadline. The last read there finds the
  // install completed: kept, nothing undone. An uninstall then completes the run.
  'expired-install-after-lost-approval': {
    options: { phaseTimeoutMs: 20_000, phaseMarginMs: 10_000, retryInitialMs: 500, retryMaxMs: 1_000 },
    run: async (sys, deliver) => {
      const { installation, event } = sys.simulator.createInstallation();
      const id = installation.id;
      sys.simulator.failNext('installationState', 1, { delayMs: 5_000 });
      await deliver(event);
      // Once it landed (its answer still 5 s away), every read fails: provisioning's own read of it came before.
      await eventually('the approval landed', async () => (sys.simulator.getInstallation(id)?.state === 'completed' ? true : undefined));
      sys.simulator.failNext('installation', 100_000, { status: 500 });
      const deadline = await eventually('the approval landed and its retries failing', async () => {
        const v = await queryState(sys.client, id);
        const landed = sys.simulator.getInstallation(id)?.state === 'completed';
        return landed && v.phase === 'installing' && v.lastError !== undefined ? v.deadline : undefined;
      });
      await eventually('the deadline', async () => (Date.now() >= Date.parse(deadline ?? '') ? true : undefined), 30_000);
      sys.simulator.clearFaults();
      await eventually('kept by the last read', async () => {
        const v = await queryState(sys.client, id);
        return v.phase === 'active' && v.history.at(-1)?.result === 'approved' ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      await waitForPhase(sys.client, id, 'uninstalled');
      return id;
    },
  },
};
