import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { PROJECT_ROOT } from '../../src/local/tools';
import { rejectUpdate, workflowIdFor } from '../../workflows/definitions';
import { stopAllServers } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';
import { eventually, finalView, updateAdmitted, waitForPhase } from '../support/waits';
import { APPROVAL_SCENARIOS } from './approval-scenarios';
import { START_GATE_SCENARIOS } from './start-gate-scenarios';
import { STORE_STEP_SCENARIOS } from './store-step-scenarios';
import { TIMER_SCENARIOS, type Scenario } from './timer-scenarios';
import { TRIAL_SCENARIOS } from './trial-scenarios';
import { RECONCILE_SCENARIOS } from './reconcile-scenarios';
import { OPERATOR_SCENARIOS } from './operator-scenarios';
import { ROTATION_SCENARIOS } from './rotation-scenarios';
import { REINSTALL_SCENARIOS } from './reinstall-scenarios';
import { GENERATION_15_SCENARIOS } from './generation-15-scenarios';
import { GENERATION_16_SCENARIOS } from './generation-16-scenarios';
import { GENERATION_17_SCENARIOS } from './generation-17-scenarios';
import { GENERATION_18_SCENARIOS } from './generation-18-scenarios';
import { deliverToFinished } from './scenario-steps';

/**
 * Records real histories into test/histories/ for the replay test:
 * `npm run record:histories -- <scenario...>` writes only the named scenarios'
 * files (an unknown name is an error listing the known ones; no name records all).
 * Record a new scenario on its own: an old recording must stay as the old code wrote
 * it, so that the replay test keeps proving the new code can still replay it.
 * Scenarios and their options are listed in docs/versioning.md.
 */
const OUT = path.join(PROJECT_ROOT, 'test', 'histories');

async function save(sys: TestSystem, name: string, installationId: string, which: 'first' | 'last'): Promise<void> {
  const workflowId = workflowIdFor(installationId);
  let history = await sys.client.workflow.getHandle(workflowId).fetchHistory();
  if (which === 'first') {
    const firstRunId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId;
    if (!firstRunId) throw new Error(`${name}: no first run id in the history of ${workflowId}`);
    history = await sys.client.workflow.getHandle(workflowId, firstRunId).fetchHistory();
  }
  writeFileSync(path.join(OUT, `${name}.json`), historyToJSON(history) + '\n');
  console.log(`recorded ${name}: ${history.events?.length ?? 0} events`);
}

/** Install, update, rotation, trial, uninstall: every phase of a normal life. */
const fullLifecycle: Scenario['run'] = async (sys, deliver) => {
  const life = sys.simulator.createInstallation({ licensedUsers: 3 });
  await deliver(life.event);
  await waitForPhase(sys.client, life.installation.id, 'active');
  // One event at a time, each applied before the next (a queued uninstall would supersede the rest).
  const applied = async (n: number) =>
    eventually(`${n} events applied`, async () => {
      const v = await waitForPhase(sys.client, life.installation.id, 'active');
      return v.appliedEvents >= n ? v : undefined;
    });
  await deliver(sys.simulator.updateInstallation(life.installation.id, { addUsers: 1, subscription: { name: 'pro', licenses: 5 } }));
  await applied(2);
  await deliver(sys.simulator.rotateCredentials(life.installation.id));
  await applied(3);
  await deliver(sys.simulator.startTrial(life.installation.id, new Date(Date.now() + 86_400_000)));
  await applied(4);
  await deliver(sys.simulator.endTrial(life.installation.id, { reason: 'plan_upgraded', by: 'user' }));
  await applied(5);
  await deliver(sys.simulator.uninstall(life.installation.id));
  return life.installation.id;
};

const FIRST_WAVE: Record<string, Scenario['run']> = {
  'full-lifecycle': fullLifecycle,
  // The same life recorded by a run that starts with the one marker of the first fourteen generations.
  'full-lifecycle-one-marker': fullLifecycle,
  // And by a run that starts with the one marker of the first fifteen.
  'full-lifecycle-one-marker-15': fullLifecycle,
  // And by a run that starts with the one marker of the first sixteen.
  'full-lifecycle-one-marker-16': fullLifecycle,

  // Provisioning that cannot succeed: rejected with a reason.
  'rejected-install': async (sys, deliver) => {
    const rejected = sys.simulator.createInstallation();
    sys.simulator.failNext('licensedUsers', 1, { status: 404 });
    await deliver(rejected.event);
    return rejected.installation.id;
  },

  // Retries (500, 429) and an uninstall interrupting provisioning.
  'uninstall-during-provisioning': async (sys, deliver) => {
    const interrupted = sys.simulator.createInstallation();
    sys.simulator.failNext('account', 2, { status: 500 });
    sys.simulator.failNext('licensedUsers', 1, { delayMs: 2_000 });
    const provisioning = sys.simulator.waitForCall((c) => c.route === 'licensedUsers' && c.installationId === interrupted.installation.id);
    await deliver(interrupted.event);
    await provisioning;
    await deliver(sys.simulator.uninstall(interrupted.installation.id));
    return interrupted.installation.id;
  },

  // Events in reverse order.
  'reverse-order': async (sys, deliver) => {
    const t0 = Date.now() - 60_000;
    const reverse = sys.simulator.createInstallation({}, { createdAt: new Date(t0) });
    const upd = sys.simulator.updateUsers(reverse.installation.id, { add: 1 }, { createdAt: new Date(t0 + 1_000) });
    const un = sys.simulator.uninstall(reverse.installation.id, undefined, { createdAt: new Date(t0 + 2_000) });
    await deliver(un);
    await deliver(upd);
    await deliver(reverse.event);
    return reverse.installation.id;
  },

  // A compromised rotation, then an operator's reject.
  'compromised-rotation-then-operator-reject': async (sys, deliver) => {
    const compromised = sys.simulator.createInstallation();
    await deliver(compromised.event);
    await waitForPhase(sys.client, compromised.installation.id, 'active');
    const rotation = sys.simulator.rotateCredentials(compromised.installation.id, { compromised: true });
    await deliver(rotation);
    await eventually('the compromised rotation', async () => {
      const v = await waitForPhase(sys.client, compromised.installation.id, 'active');
      return v.activeClientId === rotation.data.client_id ? v : undefined;
    });
    await sys.client.workflow.getHandle(workflowIdFor(compromised.installation.id)).executeUpdate(rejectUpdate, {
      args: [{ reason: 'recorded operator rejection' }],
    });
    return compromised.installation.id;
  },

  // An operator's reject that reaches the workflow before the install began (no worker ran yet).
  // An update older than the uninstall, delivered after the workflow completed: a short run of its own ignores it.
  'late-update-after-uninstall': async (sys, deliver) => {
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 1 }, { createdAt: new Date(t0) });
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');
    const update = sys.simulator.updateUsers(installation.id, { add: 1 }, { createdAt: new Date(t0 + 1_000) });
    await deliver(sys.simulator.uninstall(installation.id, undefined, { createdAt: new Date(t0 + 2_000) }));
    await deliverToFinished(sys, deliver, installation.id, update);
    return installation.id;
  },
  'operator-reject-before-install': async (sys, deliver) => {
    const early = sys.simulator.createInstallation();
    await sys.stopWorker();
    await deliver(early.event);
    const workflowId = workflowIdFor(early.installation.id);
    const updateId = 'recorded-early-rejection';
    const rejected = sys.client.workflow
      .getHandle(workflowId)
      .executeUpdate(rejectUpdate, { args: [{ reason: 'recorded early rejection' }], updateId });
    // Admitted by the server while no worker runs: the worker then takes it with the install.
    await updateAdmitted(sys.client, workflowId, updateId);
    await sys.startWorker();
    await rejected;
    return early.installation.id;
  },
};

const SCENARIOS: Record<string, Scenario> = {
  ...Object.fromEntries(Object.entries(FIRST_WAVE).map(([name, run]) => [name, { run }])),
  ...TIMER_SCENARIOS,
  ...APPROVAL_SCENARIOS,
  ...STORE_STEP_SCENARIOS,
  ...START_GATE_SCENARIOS,
  ...TRIAL_SCENARIOS,
  ...RECONCILE_SCENARIOS,
  ...OPERATOR_SCENARIOS,
  ...ROTATION_SCENARIOS,
  ...REINSTALL_SCENARIOS,
  ...GENERATION_15_SCENARIOS,
  ...GENERATION_16_SCENARIOS,
  ...GENERATION_17_SCENARIOS,
  ...GENERATION_18_SCENARIOS,
};

/** Records the named scenarios (all when none is named), each on a system of its own; writes only their files. */
async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !(n in SCENARIOS));
  if (unknown.length) {
    console.error(`Unknown scenario ${unknown.join(', ')}; known scenarios: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
  mkdirSync(OUT, { recursive: true });
  try {
    for (const name of names.length ? names : Object.keys(SCENARIOS)) {
      const scenario = SCENARIOS[name]!;
      const sys = await startSystem({ workflowOptions: { maxEventsPerRun: 1_000, ...scenario.options } });
      const deliver = (e: unknown) => sys.simulator.deliver(e as never, { callbackUrl: sys.web.callbackUrl });
      try {
        const installationId = await scenario.run(sys, deliver);
        await finalView(sys.client, installationId);
        await save(sys, name, installationId, scenario.save ?? 'last');
      } finally {
        await sys.close();
      }
    }
  } finally {
    await stopAllServers();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
