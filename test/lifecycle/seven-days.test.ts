import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { workflowIdFor, type InstallationView } from '../../workflows/definitions';
import { timeSkippingEnv } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';

const HOUR = 3_600_000;

/** Days pass in seconds here: each test owns a time-skipping server. */
describe('the seven-day rules (time-skipping server)', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let sys: TestSystem;
  beforeEach(async () => {
    env = await timeSkippingEnv();
    // Back off up to six hours so a week of retries stays a few dozen attempts.
    sys = await startSystem({ env, workflowOptions: { retryMaxMs: 6 * HOUR } });
  });
  afterEach(async () => {
    await sys?.close();
    await env?.teardown();
  });

  const result = (installationId: string) =>
    env.client.workflow.getHandle(workflowIdFor(installationId)).result() as Promise<InstallationView>;

  it('expires an install that can never be approved and undoes its provisioning', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    sys.simulator.failNext('installationState', 100_000, { status: 500 });
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await eventually('the account to be provisioned', async () =>
      (await sys.store.accounts.getAccount(event.data.account_id)) ? true : undefined,
    );

    const view = await result(installation.id); // awaiting the result lets the server skip time
    assert.equal(view.phase, 'expired');
    assert.deepEqual([view.history.at(-1)?.phase, view.history.at(-1)?.result], ['installing', 'expired']);
    assert.equal(await sys.store.accounts.getAccount(event.data.account_id), null, 'provisioning undone');
    assert.equal((await sys.store.accounts.listUsers(event.data.account_id)).length, 0);
    const creds = await sys.store.credentials.list(installation.id);
    assert.ok(creds.length > 0 && creds.every((c) => c.status === 'destroyed' && !c.secret));
    const approvals = sys.simulator.stateCalls(installation.id).filter((c) => c.status === 200);
    assert.equal(approvals.length, 0);
    assert.ok(sys.simulator.calls.filter((c) => c.route === 'installationState').length > 10, 'it kept trying for the week');
  });

  it('deprovisions an uninstall that is never acknowledged after seven days', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    await waitForPhase(env.client, installation.id, 'active');
    sys.simulator.failNext('installationState', 100_000, { status: 500 });
    const uninstall = sys.simulator.uninstall(installation.id);
    assert.equal(await sys.simulator.deliver(uninstall, { callbackUrl: sys.web.callbackUrl }), 200);

    const view = await result(installation.id);
    assert.equal(view.phase, 'uninstalled');
    assert.deepEqual([view.history.at(-1)?.phase, view.history.at(-1)?.result], ['uninstalling', 'expired']);
    const account = await sys.store.accounts.getAccount(event.data.account_id);
    assert.equal(account?.status, 'disabled');
    const users = await sys.store.accounts.listUsers(event.data.account_id);
    assert.ok(users.length > 0 && users.every((u) => !u.active), 'the user mappings kept, deactivated');
    assert.ok(await sys.store.accounts.getSettings(event.data.account_id), 'settings kept for a reinstall');
    const creds = await sys.store.credentials.list(installation.id);
    assert.ok(creds.length > 0 && creds.every((c) => c.status === 'destroyed' && !c.secret), 'the set kept, destroyed');
  });

  it('destroys routinely rotated credentials when the grace period ends', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    await waitForPhase(env.client, installation.id, 'active');
    const rotation = sys.simulator.rotateCredentials(installation.id);
    await sys.simulator.deliver(rotation, { callbackUrl: sys.web.callbackUrl });
    const view = await eventually('the rotation to be applied', async () => {
      const v = await waitForPhase(env.client, installation.id, 'active');
      return v.activeClientId === rotation.data.client_id ? v : undefined;
    });
    assert.equal(view.retiringCredentials.length, 1);
    const old = await sys.store.credentials.get(installation.id, event.data.client_id);
    assert.equal(old?.status, 'retiring');
    assert.ok(old?.secret, 'both sets stay usable during the grace period');
    assert.equal(sys.simulator.credentialsStateCalls(installation.id).length, 1);

    await env.sleep('6 days');
    assert.ok((await sys.store.credentials.get(installation.id, event.data.client_id))?.secret, 'still there after six days');
    await env.sleep('2 days');
    await eventually('the old credentials to be destroyed', async () => {
      const rec = await sys.store.credentials.get(installation.id, event.data.client_id);
      return rec?.status === 'destroyed' && !rec.secret ? rec : undefined;
    });
    const current = await sys.store.credentials.get(installation.id, rotation.data.client_id);
    assert.equal(current?.status, 'active');
    assert.ok(current?.secret);
  });
});
