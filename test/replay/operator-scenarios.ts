import { rejectUpdate, workflowIdFor } from '../../workflows/definitions';
import { eventually, queryState, waitForPhase } from '../support/waits';
import { rejectFailingUpdate, rejectUpdateBehindNewer } from '../support/operator';
import { activeInstallation, updateRetrying } from './scenario-steps';
import type { Scenario } from './timer-scenarios';

/**
 * An install fails for good (its users cannot be read), its rejection retries (Talkdesk answering 500), and
 * the uninstall arrives and stops it (patch queued-uninstall-keeps-credentials decides what follows).
 */
const uninstallDuringRejection: Scenario['run'] = async (sys, deliver) => {
  const { installation, event } = sys.simulator.createInstallation();
  const id = installation.id;
  sys.simulator.failNext('licensedUsers', 1, { status: 404 });
  sys.simulator.failNext('installationState', 10_000, { status: 500 });
  await deliver(event);
  await eventually('the rejection retrying', async () => {
    const v = await queryState(sys.client, id);
    return v.currentStep === 'reject the installation at Talkdesk' && v.attempts >= 2 ? v : undefined;
  });
  // Talkdesk stays down until the uninstall has stopped the rejection: cleared before, the rejection's next
  // retry (at most 400 ms away) could land first and end the install rejected, with no uninstall to record.
  await deliver(sys.simulator.uninstall(id));
  await eventually('the uninstall under way', async () => {
    const v = await queryState(sys.client, id);
    return v.phase === 'uninstalling' || v.phase === 'uninstalled' ? v : undefined;
  });
  sys.simulator.clearFaults();
  await waitForPhase(sys.client, id, 'uninstalled');
  return id;
};

/**
 * Patch operator-reject-reads-talkdesk-first (decided at start by patches-decided-at-start-4): the install's first
 * approval lands at Talkdesk but its answer comes too late (the simulator's delay fault), and an operator rejects the
 * install during the backoff. Under the patch the reject reads Talkdesk, finds the install completed and keeps it
 * (then an uninstall completes the run); before it, the provisioning was undone and the installation ended rejected.
 */
const rejectAfterLostApproval: Scenario['run'] = async (sys, deliver) => {
  const { installation, event } = sys.simulator.createInstallation();
  const id = installation.id;
  sys.simulator.failNext('installationState', 1, { delayMs: 5_000 });
  await deliver(event);
  await eventually('the approval landed and its attempt timed out', async () => {
    const v = await queryState(sys.client, id);
    const landed = sys.simulator.getInstallation(id)?.state === 'completed';
    return landed && v.phase === 'installing' && v.lastError !== undefined ? v : undefined;
  });
  await sys.client.workflow.getHandle(workflowIdFor(id)).executeUpdate(rejectUpdate, { args: [{ reason: 'recorded late reject' }] });
  const v = await eventually('the reject applied', async () => {
    const s = await queryState(sys.client, id);
    return s.phase === 'rejected' || (s.phase === 'active' && s.history.at(-1)?.result === 'not-open') ? s : undefined;
  });
  if (v.phase === 'active') await deliver(sys.simulator.uninstall(id));
  return id;
};

/**
 * Patch operator-reject-of-update-reads-talkdesk-first (decided at start by patches-decided-at-start-6): an update's
 * first approval lands at Talkdesk but its answer comes too late, and an operator rejects the update during the
 * backoff. Under the patch the reject reads Talkdesk, finds the update completed and keeps it; before it, the update
 * was reverted first (Talkdesk keeping it). An uninstall then completes the run.
 */
const rejectUpdateAfterLostApproval: Scenario['run'] = async (sys, deliver) => {
  const id = await activeInstallation(sys, deliver);
  sys.simulator.failNext('installationState', 1, { delayMs: 5_000 });
  await deliver(sys.simulator.updateUsers(id, { add: 1 }));
  await eventually('the update approval landed and its attempt timed out', async () => {
    const v = await queryState(sys.client, id);
    const landed = sys.simulator.getInstallation(id)?.pendingOperation === null;
    return landed && v.phase === 'updating' && v.lastError !== undefined ? v : undefined;
  });
  await sys.client.workflow.getHandle(workflowIdFor(id)).executeUpdate(rejectUpdate, { args: [{ reason: 'recorded late reject' }] });
  await eventually('the reject applied', async () => {
    const s = await queryState(sys.client, id);
    return s.phase === 'active' && ['not-open', 'rejected'].includes(s.history.at(-1)?.result ?? '') ? s : undefined;
  });
  await deliver(sys.simulator.uninstall(id));
  return id;
};

/** An operator rejects an update Talkdesk approved (its answer lost) after a newer update was delivered; an uninstall ends the run. */
const rejectBehindNewer: Scenario['run'] = async (sys, deliver) => {
  const { id } = await rejectUpdateBehindNewer(sys, deliver);
  await deliver(sys.simulator.uninstall(id));
  await waitForPhase(sys.client, id, 'uninstalled');
  return id;
};

/** Scenarios of patch operator-reject-concluded-operations (decided at start by patches-decided-at-start-2), and of an update's revert. */
export const OPERATOR_SCENARIOS: Record<string, Scenario> = {
  // Recorded with the code before patch operator-reject-reads-talkdesk-first: undone, rejected.
  'operator-reject-after-lost-approval-before-patch': {
    options: { retryInitialMs: 20_000, retryMaxMs: 20_000 },
    run: rejectAfterLostApproval,
  },
  // Under it: Talkdesk read first, the install kept; an uninstall ends the run.
  'operator-reject-after-lost-approval': { options: { retryInitialMs: 20_000, retryMaxMs: 20_000 }, run: rejectAfterLostApproval },
  // Recorded with the code before patch operator-reject-of-update-reads-talkdesk-first: reverted, then rejected.
  'operator-reject-of-update-after-lost-approval-before-patch': {
    options: { retryInitialMs: 20_000, retryMaxMs: 20_000 },
    run: rejectUpdateAfterLostApproval,
  },
  // Under it: Talkdesk read first, the update kept; an uninstall ends the run.
  'operator-reject-of-update-after-lost-approval': {
    options: { retryInitialMs: 20_000, retryMaxMs: 20_000 },
    run: rejectUpdateAfterLostApproval,
  },
  // Recorded with the code before patch operator-reject-of-update-kept-behind-newer: the rejection, read first, sent
  // on the newer update's `pending` (concluding it), the approved update reverted, the newer one then not open.
  'operator-reject-of-update-behind-newer-before-patch': { run: rejectBehindNewer },
  // Under it: nothing sent, the approved update kept, the newer one approved by its own phase.
  'operator-reject-of-update-kept-behind-newer': { run: rejectBehindNewer },
  // An update whose approval keeps failing is rejected by an operator: the update alone is rejected
  // at Talkdesk, the installation stays active; an uninstall then completes the run.
  'operator-reject-during-update': {
    options: { retryInitialMs: 200, retryMaxMs: 400 },
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      sys.simulator.failNext('installationState', 10_000, { status: 500 });
      await deliver(sys.simulator.updateUsers(id, { add: 1 }));
      await eventually('the update retrying its approval', async () => {
        const v = await queryState(sys.client, id);
        return v.phase === 'updating' && v.attempts >= 2 ? v : undefined;
      });
      await rejectFailingUpdate(sys, id, 'recorded update rejection');
      await eventually('the update rejected', async () => {
        const v = await queryState(sys.client, id);
        return v.phase === 'active' && v.history.at(-1)?.result === 'rejected' ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
  // Patch revert-update-stopped-while-applying: an update whose users cannot be read (Talkdesk answering
  // 500) is interrupted by the uninstall while it retries; it is reverted from its plan, then uninstalled.
  'uninstall-during-update-apply': {
    options: { retryInitialMs: 200, retryMaxMs: 400 },
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      await updateRetrying(sys, deliver, id);
      await deliver(sys.simulator.uninstall(id));
      await waitForPhase(sys.client, id, 'uninstalled');
      sys.simulator.clearFaults();
      return id;
    },
  },
  // Patch operator-reject-within-operation-deadline (decided at start by patches-decided-at-start-8): an update whose
  // users cannot be read (Talkdesk answering 500) is rejected by an operator while it retries: reverted, its rejection
  // sent within the update's own seven days (the same deadline); an uninstall then completes the run.
  'operator-reject-during-update-apply': {
    options: { retryInitialMs: 200, retryMaxMs: 400 },
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      await updateRetrying(sys, deliver, id);
      await rejectFailingUpdate(sys, id, 'recorded reject while applying');
      await eventually('the update rejected', async () => {
        const v = await queryState(sys.client, id);
        return v.phase === 'active' && v.history.at(-1)?.result === 'rejected' ? v : undefined;
      });
      sys.simulator.clearFaults();
      await deliver(sys.simulator.uninstall(id));
      await waitForPhase(sys.client, id, 'uninstalled');
      return id;
    },
  },
  // Recorded with the code before the patch: the credentials destroyed, the uninstall deprovisioned locally.
  'uninstall-during-install-rejection-before-patch': { options: { retryInitialMs: 200, retryMaxMs: 400 }, run: uninstallDuringRejection },
  // Patch queued-uninstall-keeps-credentials: the credentials kept, the uninstall acknowledged with them.
  'uninstall-during-install-rejection': { options: { retryInitialMs: 200, retryMaxMs: 400 }, run: uninstallDuringRejection },
};
