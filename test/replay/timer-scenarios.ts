import type { InstallationOptions } from '../../workflows/options';
import { reconcileSignal, retryNowUpdate, workflowIdFor, type InstallationView } from '../../workflows/definitions';
import type { TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';

export type Deliver = (event: unknown) => Promise<number>;

/** A recorded scenario: what it does, the workflow options it needs, and which run to save. */
export interface Scenario {
  run: (sys: TestSystem, deliver: Deliver) => Promise<string>;
  /** Workflow options over the recorder's (each scenario gets a system of its own). */
  options?: Partial<InstallationOptions>;
  /** `first`: the run that continued as new; the last run (the one that completed) by default. */
  save?: 'first' | 'last';
}

const until = (sys: TestSystem, id: string, what: string, check: (v: InstallationView) => boolean, timeoutMs = 30_000) =>
  eventually(
    what,
    async () => {
      const v = await queryState(sys.client, id);
      return check(v) ? v : undefined;
    },
    timeoutMs,
  );

/** Install, start a trial (two events: the run continues as new), end the trial, uninstall. */
const carriedOver = async (sys: TestSystem, deliver: Deliver): Promise<string> => {
  const life = sys.simulator.createInstallation();
  const id = life.installation.id;
  await deliver(life.event);
  await waitForPhase(sys.client, id, 'active');
  await deliver(sys.simulator.startTrial(id, new Date(Date.now() + 86_400_000)));
  await until(sys, id, 'the trial applied', (v) => v.appliedEvents >= 2);
  await deliver(sys.simulator.endTrial(id, { reason: 'trial_expired', by: 'system' }));
  await until(sys, id, 'the trial end applied', (v) => v.appliedEvents >= 3);
  await deliver(sys.simulator.uninstall(id));
  return id;
};

/** An install whose provisioning fails a dozen times (500): the run continues as new mid-phase, at backoffs. */
const midPhase = async (sys: TestSystem, deliver: Deliver): Promise<string> => {
  const life = sys.simulator.createInstallation();
  const id = life.installation.id;
  sys.simulator.failNext('account', 12, { status: 500 });
  await deliver(life.event);
  await waitForPhase(sys.client, id, 'active', 60_000);
  await deliver(sys.simulator.uninstall(id));
  return id;
};
/** Short backoffs, and a history threshold a few attempts reach. */
const MID_PHASE_OPTIONS: Partial<InstallationOptions> = { retryInitialMs: 100, retryMaxMs: 200, maxHistoryEventsPerRun: 60 };

/** Scenarios for continue-as-new, the reconcile signal, retryNow and the workflow's timers (issue 12). */
export const TIMER_SCENARIOS: Record<string, Scenario> = {
  // The run that continues as new after two events (its history ends with ContinuedAsNew).
  'continue-as-new': { options: { maxEventsPerRun: 2 }, save: 'first', run: carriedOver },
  // The run that started from the carried state and completed.
  'continue-as-new-carried': { options: { maxEventsPerRun: 2 }, save: 'last', run: carriedOver },

  // The run cut in the middle of the install (patch continue-as-new-mid-phase; its history ends with ContinuedAsNew).
  'continue-as-new-mid-phase': { options: MID_PHASE_OPTIONS, save: 'first', run: midPhase },
  // The last run: it re-entered the install carried over, completed it, then the uninstall.
  'continue-as-new-mid-phase-resumed': { options: MID_PHASE_OPTIONS, save: 'last', run: midPhase },

  // Reconciliation: markActive for an install whose approval keeps failing while Talkdesk shows it completed (the
  // recording of 2026-11: it ended the install; under mark-active-retries-state-call the approval's retry reads
  // Talkdesk at once and ends it approved), then a revoked installation is deprovisioned.
  reconcile: {
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation();
      const id = life.installation.id;
      sys.simulator.failNext('installationState', 1_000, { status: 500 });
      await deliver(life.event);
      await until(
        sys,
        id,
        'the approval retrying',
        (v) => v.phase === 'installing' && v.attempts >= 2 && !!v.currentStep?.includes('approve'),
      );
      const handle = sys.client.workflow.getHandle(workflowIdFor(id));
      // What the pass read: completed at Talkdesk (another call concluded it).
      sys.simulator.setInstallationState(id, 'completed');
      await handle.signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
      await waitForPhase(sys.client, id, 'active');
      sys.simulator.clearFaults();
      await handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked', reason: 'recorded revoke' });
      return id;
    },
  },

  // An operator's retryNow during a long backoff of a failing provisioning step.
  'retry-now': {
    options: { retryInitialMs: 120_000, retryMaxMs: 120_000 },
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation();
      const id = life.installation.id;
      sys.simulator.failNext('account', 1, { status: 500 });
      await deliver(life.event);
      await until(sys, id, 'the step waiting to retry', (v) => v.phase === 'installing' && !!v.lastError);
      await sys.client.workflow.getHandle(workflowIdFor(id)).executeUpdate(retryNowUpdate, { args: [{ reason: 'recorded retry' }] });
      await waitForPhase(sys.client, id, 'active');
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },

  // The install's deadline fires while its approval keeps failing: expired, provisioning undone.
  'phase-deadline': {
    options: { phaseTimeoutMs: 5_000 },
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation();
      sys.simulator.failNext('installationState', 1_000, { status: 500 });
      await deliver(life.event);
      return life.installation.id;
    },
  },

  // A first event that is not app.installed (an uninstall): the ordering grace expires, then it is applied.
  'ordering-grace': {
    options: { orderingGraceMs: 1_500 },
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation();
      await deliver(sys.simulator.uninstall(life.installation.id));
      return life.installation.id;
    },
  },

  // A routine rotation: the retiring set's timer fires and destroys it.
  'rotation-retirement': {
    options: { rotationGraceMs: 2_000 },
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation();
      const id = life.installation.id;
      await deliver(life.event);
      await waitForPhase(sys.client, id, 'active');
      const rotation = sys.simulator.rotateCredentials(id);
      await deliver(rotation);
      await until(
        sys,
        id,
        'the retiring set destroyed',
        (v) => v.activeClientId === rotation.data.client_id && v.appliedEvents >= 2 && v.retiringCredentials.length === 0 && !v.currentStep,
      );
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },

  // An update whose approval fails for good: reverted, rejected at Talkdesk.
  'update-reverted': {
    run: async (sys, deliver) => {
      const life = sys.simulator.createInstallation();
      const id = life.installation.id;
      await deliver(life.event);
      await waitForPhase(sys.client, id, 'active');
      sys.simulator.failNext('installationState', 1, { status: 400 });
      await deliver(sys.simulator.updateUsers(id, { add: 1 }));
      await until(
        sys,
        id,
        'the update reverted',
        (v) => v.phase === 'active' && v.history.at(-1)?.phase === 'updating' && v.history.at(-1)?.result === 'rejected' && !v.currentStep,
      );
      await deliver(sys.simulator.uninstall(id));
      return id;
    },
  },
};
