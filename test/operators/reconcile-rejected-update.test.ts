import assert from 'node:assert/strict';
import { rejectFailingUpdate } from '../support/operator';
import type { TestSystem } from '../support/system';
import { eventually, queryState } from '../support/waits';
import { installActive, runReconcile, useSystemPerTest } from './reconcile-support';

/**
 * An update rejected at Talkdesk keeps the installation, there and here; Talkdesk then shows it
 * `rejected`. Reconciliation must take that for what it is, not for an installation Talkdesk
 * ended: it used to deprovision the live installation (account disabled, credentials destroyed).
 */
describe('reconciliation after an update rejected at Talkdesk (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystemPerTest((s) => (sys = s));

  it("an operator's reject of an update: Talkdesk shows rejected, the installation stays active and provisioned", async () => {
    const { installation, event } = await installActive(sys);
    const id = installation.id;
    sys.simulator.failNext('installationState', 10_000, { status: 500 });
    await sys.simulator.deliver(sys.simulator.updateUsers(id, { add: 1 }), { callbackUrl: sys.web.callbackUrl });
    await eventually('the update retrying its approval', async () => {
      const v = await queryState(sys.client, id);
      return v.phase === 'updating' && v.attempts >= 2 ? v : undefined;
    });
    await rejectFailingUpdate(sys, id, 'bad plan change');
    await eventually(
      'the update rejected',
      async () => {
        const v = await queryState(sys.client, id);
        return v.phase === 'active' && v.history.at(-1)?.result === 'rejected' ? v : undefined;
      },
      60_000,
    ); // Room for the rejection's retries: a timeout here once came from the race rejectFailingUpdate closes.
    assert.equal(sys.simulator.getInstallation(id)?.state, 'rejected', 'what Talkdesk shows after a rejected update');

    const report = await runReconcile(sys, { activeCheckHours: 0 }, `reconcile-${Date.now()}`);
    assert.deepEqual([report.deprovisioned, report.drift, report.errors], [[], [], []]);
    const v = await queryState(sys.client, id);
    assert.equal(v.phase, 'active');
    assert.equal((await sys.store.accounts.getAccount(event.data.account_id))?.status, 'provisioned');
    assert.ok(
      (await sys.store.credentials.list(id)).some((c) => c.status === 'active'),
      'credentials kept',
    );
  });
});
