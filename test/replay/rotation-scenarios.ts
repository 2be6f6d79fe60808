import { eventually, queryState, waitForPhase } from '../support/waits';
import { activeInstallation, deliverToFinished, updateRetrying } from './scenario-steps';
import type { Scenario } from './timer-scenarios';

/**
 * Scenarios of patch `uninstall-adopts-compromised-rotation` (decided at start by
 * `patches-decided-at-start-3`): the simulator revokes the old set when it sends a compromised
 * rotation, so an uninstall that supersedes the rotation is acknowledged with the new set.
 */
export const ROTATION_SCENARIOS: Record<string, Scenario> = {
  // The rotation's acknowledgement keeps failing (500) when the uninstall arrives: it interrupts the
  // rotation, imports the new set as the active one and acknowledges the uninstall with it.
  'uninstall-during-compromised-rotation': {
    options: { retryInitialMs: 200, retryMaxMs: 400 },
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      sys.simulator.failNext('credentialsState', 1_000, { status: 500 });
      await deliver(sys.simulator.rotateCredentials(id, { compromised: true }));
      await eventually('the rotation acknowledgement retrying', async () => {
        const v = await queryState(sys.client, id);
        return /acknowledge the rotation/.test(v.lastError ?? '') && v.attempts >= 2 ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
  // An update retrying (Talkdesk's users answering 500) while a compromised rotation queues behind it;
  // the uninstall interrupts the update, and the rotation, next in the queue, meets it queued: its set
  // is imported as the active one and acknowledges the uninstall.
  'compromised-rotation-queued-behind-uninstall': queuedBehindUninstall(),
  // The same under patch new-life-rotation-waits-before-uninstall: asked by the rotation's signal, the run's first
  // rotation or uninstall (its marker there; a live installation's rotation takes the same path).
  'compromised-rotation-queued-behind-uninstall-asked': queuedBehindUninstall(),
  // Talkdesk rotates the credentials as compromised (the old set revoked), then the customer uninstalls; the rotation's
  // first delivery fails, and it arrives while the uninstall's acknowledgement (its token request held 3 s) runs
  // with the revoked set: under patch uninstall-adopts-rotation-during-acknowledgement the rotation is adopted once the
  // call ends (failed for good: invalid_client), and the acknowledgement sent again with its set.
  'compromised-rotation-during-uninstall-acknowledgement': {
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      const rotation = sys.simulator.rotateCredentials(id, { compromised: true });
      sys.simulator.failNext('token', 1, { delayMs: 3_000 });
      const tokens = () => sys.simulator.calls.filter((c) => c.route === 'token').length;
      const before = tokens();
      await deliver(sys.simulator.uninstall(id));
      await eventually('the acknowledgement asking for a token', async () => (tokens() > before ? true : undefined));
      await deliver(rotation);
      await waitForPhase(sys.client, id, 'uninstalled');
      return id;
    },
  },
  // A rotation delivered after the uninstall completed the workflow: a short run of its own ignores it
  // and deletes its credentials' copy (patch discard-ignored-credentials, decided at start).
  'rotation-after-uninstall': {
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      const rotation = sys.simulator.rotateCredentials(id, { compromised: false });
      await deliver(sys.simulator.uninstall(id));
      await deliverToFinished(sys, deliver, id, rotation);
      return id;
    },
  },
  // A routine rotation whose acknowledgement Talkdesk refuses (403), then the uninstall. Recorded with the code
  // before patch routine-rotation-keeps-proven-set: the new set, proven by its token, was destroyed.
  'routine-rotation-ack-refused-before-patch': ackRefused(false),
  // The same under the patch: the proven set is switched to all the same (the old one retires when Talkdesk's
  // grace ends), and the uninstall is acknowledged with it.
  'routine-rotation-ack-refused': ackRefused(false),
  // A compromised rotation whose acknowledgement Talkdesk refuses (403): its proven set is switched to all the
  // same (patch compromised-rotation-keeps-proven-set), and the uninstall is acknowledged with it.
  'compromised-rotation-ack-refused': ackRefused(true),
  // A routine rotation delivered after its deadline (seven days here 8 s): under patch
  // rotation-imported-after-its-deadline (decided at start by patches-decided-at-start-5) its set is imported,
  // proven and switched to, unacknowledged; then the uninstall.
  'rotation-after-its-deadline': afterDeadline(),
  // The same recorded with the code before that patch: the rotation expired at once, nothing of it ran.
  'rotation-after-its-deadline-before-patch': afterDeadline(),
};

/** A routine rotation delivered once its deadline (`phaseTimeoutMs`, 8 s) has passed, then the uninstall. */
function afterDeadline(): Scenario {
  return {
    options: { phaseTimeoutMs: 8_000, phaseMarginMs: 0 },
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      const rotation = sys.simulator.rotateCredentials(id, { compromised: false });
      const due = Date.parse(rotation.created_at) + 9_000;
      await eventually('the rotation past its deadline', async () => (Date.now() > due ? true : undefined));
      return rotationThenUninstall(sys, deliver, id, rotation);
    },
  };
}

/** A rotation whose acknowledgement Talkdesk refuses once (403), then the uninstall. */
export function ackRefused(compromised: boolean): Scenario {
  return {
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      sys.simulator.failNext('credentialsState', 1, { status: 403 });
      return rotationThenUninstall(sys, deliver, id, sys.simulator.rotateCredentials(id, { compromised }));
    },
  };
}

/** Delivers the rotation, waits for its end in the phase history, then delivers the uninstall. */
async function rotationThenUninstall(
  sys: Parameters<Scenario['run']>[0],
  deliver: Parameters<Scenario['run']>[1],
  id: string,
  rotation: ReturnType<Parameters<Scenario['run']>[0]['simulator']['rotateCredentials']>,
): Promise<string> {
  await deliver(rotation);
  await eventually('the rotation to end', async () => {
    const v = await queryState(sys.client, id);
    return v.history.at(-1)?.eventId === rotation.id ? v : undefined;
  });
  await deliver(sys.simulator.uninstall(id));
  return id;
}

/** An update retrying with a compromised rotation queued behind it, then the uninstall (the rotation meets it queued). */
function queuedBehindUninstall(): Scenario {
  return {
    options: { retryInitialMs: 200, retryMaxMs: 400 },
    run: async (sys, deliver) => {
      const id = await activeInstallation(sys, deliver);
      await updateRetrying(sys, deliver, id);
      const rotation = sys.simulator.rotateCredentials(id, { compromised: true });
      await deliver(rotation);
      await eventually('the rotation queued', async () => {
        const v = await queryState(sys.client, id);
        return v.pendingEvents.some((p) => p.endsWith(rotation.id)) ? v : undefined;
      });
      await deliver(sys.simulator.uninstall(id));
      await waitForPhase(sys.client, id, 'uninstalled');
      sys.simulator.clearFaults();
      return id;
    },
  };
}
