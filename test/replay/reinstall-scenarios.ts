import { isoSeconds } from '../../src/simulator/ids';
import { eventually, queryState, waitForPhase } from '../support/waits';
import type { Scenario } from './timer-scenarios';

/**
 * Scenarios of patch `stale-uninstall-spares-reinstall` (decided at start by `patches-decided-at-start-5`):
 * Talkdesk reinstalls under the same installation id, and the earlier life's uninstall is delivered after
 * the reinstall was applied (its first delivery failed, or events out of order).
 */
export const REINSTALL_SCENARIOS: Record<string, Scenario> = {
  // The stale uninstall is ignored; the live installation is kept, then uninstalled for real.
  'stale-uninstall-after-reinstall': staleUninstall(),
  // The same recorded with the code before the patch: the stale uninstall deprovisioned the reinstalled account.
  'stale-uninstall-after-reinstall-before-patch': staleUninstall(),
  // Patch earlier-life-events-over (patches-decided-at-start-9): the earlier life's update, delivered after
  // the reinstall, is over: neither applied nor approved; the reinstall is then uninstalled (its deprovision heartbeating).
  'stale-update-after-reinstall': {
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation({ licensedUsers: 1 });
      const id = life.installation.id;
      await deliver(life.event);
      await waitForPhase(sys.client, id, 'active');
      const stale = sys.simulator.updateUsers(id, { add: 1 }); // never delivered in its own life
      await reinstallAfter(sys, deliver, life, Date.parse(stale.created_at));
      await deliver(stale);
      await eventually('the stale update ignored', async () => {
        const v = await queryState(sys.client, id);
        return v.ignoredEvents.some((e) => e.eventId.endsWith(stale.id)) ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      await waitForPhase(sys.client, id, 'uninstalled');
      return id;
    },
  },
  // Patch earlier-life-install-over (patches-decided-at-start-10): the earlier life's install, its delivery failed
  // until after the reinstall was applied, is over: its copy discarded, nothing of it run; then uninstalled for real.
  'stale-install-after-reinstall': {
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation({ licensedUsers: 1 });
      const id = life.installation.id;
      await reinstallAfter(sys, deliver, life, Date.parse(life.event.created_at), 1);
      await deliver(life.event);
      await eventually('the stale install ignored', async () => {
        const v = await queryState(sys.client, id);
        return v.ignoredEvents.some((e) => e.eventId.endsWith(life.event.id)) ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      await waitForPhase(sys.client, id, 'uninstalled');
      return id;
    },
  },
};

/**
 * A same-id reinstall a second after `after` (event times are compared, a second apart at least), with a new client;
 * approved once the run has applied `appliedAfter` events.
 */
async function reinstallAfter(
  sys: Parameters<Scenario['run']>[0],
  deliver: Parameters<Scenario['run']>[1],
  life: ReturnType<Parameters<Scenario['run']>[0]['simulator']['createInstallation']>,
  after: number,
  appliedAfter = 2,
): Promise<void> {
  const id = life.installation.id;
  await eventually('a second past the earlier life', async () => (Date.now() > after + 1_100 ? true : undefined));
  const fresh = sys.simulator.rotateCredentials(id, { compromised: false });
  sys.simulator.setInstallationState(id, 'installing');
  const { compromised: _c, ...credentials } = fresh.data;
  const reinstall = {
    ...life.event,
    id: `${fresh.id}-reinstall`,
    created_at: isoSeconds(new Date()), // whole seconds, as the simulator's
    data: { ...life.event.data, ...credentials },
  };
  await deliver(reinstall);
  await eventually('the reinstall approved', async () => {
    const v = await queryState(sys.client, id);
    return v.appliedEvents >= appliedAfter && v.phase === 'active' ? v : undefined;
  });
}

function staleUninstall(): Scenario {
  return {
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation({ licensedUsers: 1 });
      const id = life.installation.id;
      await deliver(life.event);
      await waitForPhase(sys.client, id, 'active');
      const stale = sys.simulator.uninstall(id); // never delivered in order
      await reinstallAfter(sys, deliver, life, Date.parse(stale.created_at));
      await deliver(stale);
      await eventually('the stale uninstall handled', async () => {
        const v = await queryState(sys.client, id).catch(() => undefined);
        return v === undefined || v.phase !== 'active' || v.ignoredEvents.some((e) => e.eventId.endsWith(stale.id)) ? true : undefined;
      });
      const v = await queryState(sys.client, id).catch(() => undefined);
      if (v?.phase === 'active') await deliver(sys.simulator.uninstall(id));
      return id;
    },
  };
}
