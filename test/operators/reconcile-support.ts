import assert from 'node:assert/strict';
import { reconcileWorkflow, type ReconcileInput } from '../../workflows/reconcile';
import type { ReconcileReport } from '../../workflows/reconcile-types';
import { startSystem, type TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';

/** What the reconciliation tests share: a system per test (a pass scans every installation there is) and their set-ups. */

/** A fresh system before each test, its faults cleared before it closes; `use` receives it, so the suite keeps a plain `sys`. */
export function useSystemPerTest(use: (sys: TestSystem) => void, options: Parameters<typeof startSystem>[0] = {}): void {
  let sys: TestSystem | undefined;
  beforeEach(async () => {
    sys = await startSystem(options);
    use(sys);
  });
  afterEach(async () => {
    sys?.simulator.clearFaults();
    await sys?.close();
    sys = undefined;
  });
}

/** Runs one reconciliation pass to its report. */
export function runReconcile(sys: TestSystem, input: ReconcileInput, workflowId = `reconcile-${Date.now()}`): Promise<ReconcileReport> {
  return sys.client.workflow.execute(reconcileWorkflow, { taskQueue: sys.taskQueue, workflowId, args: [input] });
}

type InstallationOpts = Parameters<TestSystem['simulator']['createInstallation']>[0];

/** A new installation whose install event is delivered (200) and applied: active here. */
export async function installActive(sys: TestSystem, opts: InstallationOpts = {}) {
  const created = sys.simulator.createInstallation(opts);
  assert.equal(await sys.simulator.deliver(created.event, { callbackUrl: sys.web.callbackUrl }), 200);
  await waitForPhase(sys.client, created.installation.id, 'active');
  return created;
}

/** An install Talkdesk does not let approve: it stays in progress here (and so do later ones, until clearFaults). */
export async function stuckInstalling(sys: TestSystem) {
  const created = sys.simulator.createInstallation();
  sys.simulator.failNext('installationState', 1_000, { status: 500 });
  await sys.simulator.deliver(created.event, { callbackUrl: sys.web.callbackUrl });
  await eventually('the install to be stuck approving', async () => {
    const v = await queryState(sys.client, created.installation.id);
    return v.currentStep?.includes('approve') ? v : undefined;
  });
  return created;
}
