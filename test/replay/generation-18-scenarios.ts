import { eventually, queryState } from '../support/waits';
import { installedBefore } from './generation-16-scenarios';
import type { Scenario } from './timer-scenarios';

/**
 * Scenarios recorded with the eighteenth generation (patches-decided-at-start-18, decided by the one marker of the
 * first eighteen): a compromised rotation applied in order destroying the retiring set an earlier routine one left; an
 * update whose calls Talkdesk refuses with the set a compromised rotation queued behind it revoked.
 */
export const GENERATION_18_SCENARIOS: Record<string, Scenario> = {
  // Patch compromised-rotation-destroys-retiring-sets: routine R1 then compromised R2, delivered in order. R1 is
  // switched to, the install's set retiring; R2 is switched to, R1's set destroyed with it and the install's set,
  // issued before R2, destroyed at once too. An uninstall ends the run.
  'compromised-rotation-destroys-retiring-sets': {
    run: async (sys, deliver) => {
      const id = await installedBefore(sys, deliver);
      const routine = sys.simulator.rotateCredentials(id, { compromised: false }, { createdAt: new Date(Date.now() - 5_000) });
      await deliver(routine);
      await eventually('the routine rotation applied, the old set retiring', async () => {
        const v = await queryState(sys.client, id);
        return v.activeClientId === routine.data.client_id && v.retiringCredentials.length === 1 ? v : undefined;
      });
      const compromised = sys.simulator.rotateCredentials(id, { compromised: true });
      await deliver(compromised);
      await eventually('the compromised rotation applied, nothing left retiring', async () => {
        const v = await queryState(sys.client, id);
        return v.activeClientId === compromised.data.client_id && v.retiringCredentials.length === 0 ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
  // Patch talkdesk-call-adopts-queued-rotation: an update and then a compromised rotation reach a stopped worker (the
  // rotation revoked the install's set at Talkdesk). The update runs first: its calls with the revoked set are refused
  // (invalid_client), the queued rotation's set is adopted and the update approved with it; the rotation then applies.
  'update-adopts-compromised-rotation-queued': {
    run: async (sys, deliver) => {
      const id = await installedBefore(sys, deliver);
      await sys.stopWorker();
      const update = sys.simulator.updateUsers(id, { add: 1 }, { createdAt: new Date(Date.now() - 5_000) });
      await deliver(update);
      const compromised = sys.simulator.rotateCredentials(id, { compromised: true });
      await deliver(compromised);
      await sys.startWorker();
      await eventually('the update approved and the rotation applied', async () => {
        const v = await queryState(sys.client, id);
        const done = (eventId: string) => v.history.some((h) => h.eventId === eventId && h.endedAt);
        return done(update.id) && done(compromised.id) && v.activeClientId === compromised.data.client_id ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
};
