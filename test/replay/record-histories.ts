import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { PROJECT_ROOT } from '../../src/local/tools';
import { workflowIdFor } from '../../workflows/definitions';
import { stopAllServers } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';
import { eventually, finalView, waitForPhase } from '../support/waits';

/**
 * Records real histories of every phase into test/histories/ for the replay test:
 * `npm run record:histories`. Rerun it (and commit the files) only on purpose,
 * when a workflow change is released; old recordings must keep replaying.
 */
const OUT = path.join(PROJECT_ROOT, 'test', 'histories');

async function save(sys: TestSystem, name: string, installationId: string): Promise<void> {
  const history = await sys.client.workflow.getHandle(workflowIdFor(installationId)).fetchHistory();
  writeFileSync(path.join(OUT, `${name}.json`), historyToJSON(history) + '\n');
  console.log(`recorded ${name}: ${history.events?.length ?? 0} events`);
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const sys = await startSystem({ workflowOptions: { maxEventsPerRun: 1_000 } });
  const deliver = (e: unknown) => sys.simulator.deliver(e as never, { callbackUrl: sys.web.callbackUrl });
  try {
    // Install, update, rotation, trial, uninstall: every phase of a normal life.
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
    await finalView(sys.client, life.installation.id);
    await save(sys, 'full-lifecycle', life.installation.id);

    // Provisioning that cannot succeed: rejected with a reason.
    const rejected = sys.simulator.createInstallation();
    sys.simulator.failNext('licensedUsers', 1, { status: 404 });
    await deliver(rejected.event);
    await finalView(sys.client, rejected.installation.id);
    await save(sys, 'rejected-install', rejected.installation.id);

    // Retries (500, 429) and an uninstall interrupting provisioning.
    const interrupted = sys.simulator.createInstallation();
    sys.simulator.failNext('account', 2, { status: 500 });
    sys.simulator.failNext('licensedUsers', 1, { delayMs: 2_000 });
    const provisioning = sys.simulator.waitForCall((c) => c.route === 'licensedUsers' && c.installationId === interrupted.installation.id);
    await deliver(interrupted.event);
    await provisioning;
    await deliver(sys.simulator.uninstall(interrupted.installation.id));
    await finalView(sys.client, interrupted.installation.id);
    await save(sys, 'uninstall-during-provisioning', interrupted.installation.id);

    // Events in reverse order, and a compromised rotation.
    const t0 = Date.now() - 60_000;
    const reverse = sys.simulator.createInstallation({}, { createdAt: new Date(t0) });
    const upd = sys.simulator.updateUsers(reverse.installation.id, { add: 1 }, { createdAt: new Date(t0 + 1_000) });
    const un = sys.simulator.uninstall(reverse.installation.id, undefined, { createdAt: new Date(t0 + 2_000) });
    await deliver(un);
    await deliver(upd);
    await deliver(reverse.event);
    await finalView(sys.client, reverse.installation.id);
    await save(sys, 'reverse-order', reverse.installation.id);

    const compromised = sys.simulator.createInstallation();
    await deliver(compromised.event);
    await waitForPhase(sys.client, compromised.installation.id, 'active');
    const rotation = sys.simulator.rotateCredentials(compromised.installation.id, { compromised: true });
    await deliver(rotation);
    await eventually('the compromised rotation', async () => {
      const v = await waitForPhase(sys.client, compromised.installation.id, 'active');
      return v.activeClientId === rotation.data.client_id ? v : undefined;
    });
    await sys.client.workflow.getHandle(workflowIdFor(compromised.installation.id)).executeUpdate('reject', {
      args: [{ reason: 'recorded operator rejection' }],
    });
    await finalView(sys.client, compromised.installation.id);
    await save(sys, 'compromised-rotation-then-operator-reject', compromised.installation.id);
  } finally {
    await sys.close();
    await stopAllServers();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
