import type { Scenario } from './timer-scenarios';
import { LOCAL_STEP_TIMEOUT_MS } from '../../workflows/installation/context';
import { eventually, waitForPhase } from '../support/waits';

/**
 * Scenarios recorded with the patch `store-steps-local` (issue 16): the steps that only touch
 * the partner store are local activities (markers, no ActivityTaskScheduled), and the install
 * has no token step of its own.
 */
export const STORE_STEP_SCENARIOS: Record<string, Scenario> = {
  // Install (phase records and the import as local activities), a routine rotation (import and switch
  // local), then uninstall (credentials destroyed locally).
  'store-steps-local': {
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation({ licensedUsers: 2 });
      const id = life.installation.id;
      await deliver(life.event);
      await waitForPhase(sys.client, id, 'active');
      const rotation = sys.simulator.rotateCredentials(id);
      await deliver(rotation);
      await eventually('the rotation applied', async () => {
        const v = await waitForPhase(sys.client, id, 'active');
        return v.activeClientId === rotation.data.client_id && !v.currentStep ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
  // Patch `store-step-bounded-local`: the uninstall's credential destruction is slower than the
  // local bound once (a busy store), so its local attempt times out and the retry runs on the server.
  'store-step-bounded-local': {
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation({ licensedUsers: 1 });
      const id = life.installation.id;
      await deliver(life.event);
      await waitForPhase(sys.client, id, 'active');
      const creds = sys.store.credentials;
      const destroyAll = creds.destroyAll.bind(creds);
      let slow = true;
      creds.destroyAll = async (...args: Parameters<typeof destroyAll>) => {
        if (slow) {
          slow = false;
          await new Promise((r) => setTimeout(r, LOCAL_STEP_TIMEOUT_MS + 2_000));
        }
        return destroyAll(...args);
      };
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
};
