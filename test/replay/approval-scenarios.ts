import type { Scenario } from './timer-scenarios';

/**
 * Scenarios recorded with the patches of "approvals tied to their operation" (issue 12):
 * `phase-deadline-margin` and `state-call-waits-for-cancellation`.
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
};
