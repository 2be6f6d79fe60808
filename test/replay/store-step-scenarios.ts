import type { Scenario } from './timer-scenarios';
import { waitForPhase } from '../support/waits';

/**
 * Scenarios recorded with the patch `store-steps-local` (issue 16): the steps that only touch
 * the partner store are local activities (markers, no ActivityTaskScheduled), and the install
 * has no token step of its own.
 */
export const STORE_STEP_SCENARIOS: Record<string, Scenario> = {
  // Install (phase records and the import as local activities), then uninstall (credentials destroyed locally).
  'store-steps-local': {
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation({ licensedUsers: 2 });
      await deliver(life.event);
      await waitForPhase(sys.client, life.installation.id, 'active');
      await deliver(sys.simulator.uninstall(life.installation.id));
      return life.installation.id;
    },
  },
};
