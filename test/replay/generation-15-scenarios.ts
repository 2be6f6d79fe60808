import { rejectUpdate, workflowIdFor } from '../../workflows/definitions';
import { eventually, queryState, waitForPhase } from '../support/waits';
import { activeInstallation } from './scenario-steps';
import type { TestSystem } from '../support/system';
import type { Deliver, Scenario } from './timer-scenarios';

/**
 * Scenarios recorded with the fifteenth generation (patches-decided-at-start-15, decided by the one marker of the
 * first fifteen): a late update keyed by the newest update applied, and an operator's reject of an update whose own
 * run reaches the update's deadline reading Talkdesk once more.
 */
/** Past `deadline`, Talkdesk answers again: the last read keeps the operation; an uninstall then completes the run. */
async function keptByTheLastRead(sys: TestSystem, deliver: Deliver, id: string, deadline: number): Promise<string> {
  await eventually('the deadline', async () => (Date.now() >= deadline ? true : undefined), 40_000);
  sys.simulator.clearFaults();
  await eventually('kept by the last read', async () => {
    const s = await queryState(sys.client, id);
    return s.phase === 'active' && s.history.at(-1)?.result === 'not-open' ? s : undefined;
  });
  await deliver(sys.simulator.uninstall(id));
  return id;
}

export const GENERATION_15_SCENARIOS: Record<string, Scenario> = {
  // Patch late-update-keyed-by-newest-applied: an update older than one applied re-reads the licensed users, its
  // calls keyed by its event and that newer update's time (applyUpdate's `lateAfter`). An uninstall ends the run.
  'late-update-keyed-by-newest-applied': {
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      const now = Date.now();
      await deliver(sys.simulator.updateUsers(id, { add: 1 }, { createdAt: new Date(now) }));
      await eventually('the newer update applied', async () => {
        const v = await waitForPhase(sys.client, id, 'active');
        return v.appliedEvents >= 2 ? v : undefined;
      });
      await deliver(sys.simulator.updateUsers(id, { add: 1 }, { createdAt: new Date(now - 1_000) }));
      await eventually('the late update applied', async () => {
        const v = await waitForPhase(sys.client, id, 'active');
        return v.appliedEvents >= 3 ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
  // Patch operator-reject-of-update-reads-at-deadline: the update's approval lands but its answer comes too late, every
  // read of Talkdesk fails from then on, and an operator rejects the update before its deadline. The reject's own run,
  // bounded by that deadline, gets no answer; a last read past it (Talkdesk back) finds the update completed: kept,
  // not reverted. An uninstall then completes the run.
  'operator-reject-of-update-reads-at-deadline': {
    options: { phaseTimeoutMs: 24_000, phaseMarginMs: 10_000, retryInitialMs: 500, retryMaxMs: 1_000 },
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      sys.simulator.failNext('installationState', 1, { delayMs: 5_000 });
      await deliver(sys.simulator.updateUsers(id, { add: 1 }));
      await eventually('the update approval landed', async () =>
        sys.simulator.getInstallation(id)?.pendingOperation === null ? true : undefined,
      );
      sys.simulator.failNext('installation', 100_000, { status: 500 });
      const deadline = await eventually('the approval retrying, its reads failing', async () => {
        const v = await queryState(sys.client, id);
        return v.phase === 'updating' && v.lastError !== undefined ? v.deadline : undefined;
      });
      await sys.client.workflow
        .getHandle(workflowIdFor(id))
        .executeUpdate(rejectUpdate, { args: [{ reason: 'recorded reject at the deadline' }] });
      return keptByTheLastRead(sys, deliver, id, Date.parse(deadline ?? ''));
    },
  },
  // Patch operator-reject-of-install-reads-at-deadline: the same for an install, whose reject's run has seven days of
  // its own from the reject (24 s here): unanswered, a last read past them (Talkdesk back) keeps the install.
  'operator-reject-of-install-reads-at-deadline': {
    options: { phaseTimeoutMs: 24_000, phaseMarginMs: 10_000, retryInitialMs: 500, retryMaxMs: 1_000 },
    run: async (sys, deliver) => {
      const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 1 });
      const id = installation.id;
      sys.simulator.failNext('installationState', 1, { delayMs: 5_000 });
      await deliver(event);
      await eventually('the install approval landed', async () =>
        sys.simulator.getInstallation(id)?.state === 'completed' ? true : undefined,
      );
      sys.simulator.failNext('installation', 100_000, { status: 500 });
      await eventually('the approval retrying, its reads failing', async () => {
        const v = await queryState(sys.client, id);
        return v.phase === 'installing' && v.lastError !== undefined ? v : undefined;
      });
      const rejectedAt = Date.now();
      await sys.client.workflow
        .getHandle(workflowIdFor(id))
        .executeUpdate(rejectUpdate, { args: [{ reason: 'recorded reject at the deadline' }] });
      return keptByTheLastRead(sys, deliver, id, rejectedAt + 25_000);
    },
  },
};
