import type { TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';
import { ackRefused } from './rotation-scenarios';
import type { Deliver, Scenario } from './timer-scenarios';

/** An installation whose install is dated ten seconds ago: the events made after it, dated before now, are of its life. */
export async function installedBefore(sys: TestSystem, deliver: Deliver): Promise<string> {
  const life = sys.simulator.createInstallation({ licensedUsers: 1 }, { createdAt: new Date(Date.now() - 10_000) });
  await deliver(life.event);
  await waitForPhase(sys.client, life.installation.id, 'active');
  return life.installation.id;
}

/**
 * Scenarios recorded with the sixteenth generation (patches-decided-at-start-16, decided by the one marker of the
 * first sixteen): a late compromised rotation destroying the retiring set it revoked, and a trial start of the second
 * of an applied trial end, late.
 */
export const GENERATION_16_SCENARIOS: Record<string, Scenario> = {
  // Patch late-compromised-rotation-destroys-revoked-sets: compromised R1 then routine R2 at Talkdesk, delivered R2
  // first. R2 is switched to, the install's set retiring; R1, late, is acknowledged (or not) and the install's set,
  // issued before it, destroyed at once. An uninstall ends the run.
  'late-compromised-rotation-destroys-revoked-sets': {
    run: async (sys, deliver) => {
      const id = await installedBefore(sys, deliver);
      const now = Date.now();
      const compromised = sys.simulator.rotateCredentials(id, { compromised: true }, { createdAt: new Date(now - 2_000) });
      const routine = sys.simulator.rotateCredentials(id, { compromised: false }, { createdAt: new Date(now - 1_000) });
      await deliver(routine);
      await eventually('the routine rotation applied, the old set retiring', async () => {
        const v = await queryState(sys.client, id);
        return v.activeClientId === routine.data.client_id && v.retiringCredentials.length === 1 ? v : undefined;
      });
      await deliver(compromised);
      await eventually('the late compromised rotation decided, nothing left retiring', async () => {
        const v = await queryState(sys.client, id);
        const decided = v.history.some((h) => h.eventId === compromised.id && h.endedAt);
        return decided && v.retiringCredentials.length === 0 ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
  // Patch same-second-trial-event-late: a trial ends, then a trial start of that same second is delivered: late,
  // recorded, the trial stays ended (no record on the account). An uninstall ends the run.
  'same-second-trial-event-late': {
    run: async (sys, deliver) => {
      const id = await installedBefore(sys, deliver);
      const second = new Date(Math.floor(Date.now() / 1000) * 1000);
      const started = sys.simulator.startTrial(id, new Date(Date.now() + 86_400_000), { createdAt: second });
      const ended = sys.simulator.endTrial(id, { reason: 'trial_expired', by: 'system' }, { createdAt: second });
      await deliver(ended);
      await eventually('the trial ended', async () => {
        const v = await queryState(sys.client, id);
        return v.trial?.endedAt && v.appliedEvents >= 2 ? v : undefined;
      });
      await deliver(started);
      await eventually('the trial start recorded as late', async () => {
        const v = await queryState(sys.client, id);
        return v.ignoredEvents.some((e) => e.eventId === started.id) ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
  // routine-rotation-keeps-proven-set, taken into the sixteenth generation: a routine rotation whose acknowledgement
  // Talkdesk refuses (403) switches to its proven set all the same, decided at the run's start (no marker of its own
  // where the rotation ends), then the uninstall is acknowledged with that set.
  'routine-rotation-ack-refused-decided-at-start': ackRefused(false),
};
