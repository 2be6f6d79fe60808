import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { rejectUpdate, workflowIdFor } from '../../workflows/definitions';
import { deferred, refusal, resumedFromRecord, TEST_OPTIONS, unavailable, useInstallationUnderTest } from './harness';
import { sharedWorker, stubsByInstallation } from './shared-env';

/**
 * An operator's `reject` of a run started for an installation whose workflow was lost (reconciliation resumes it from
 * its stored record): a lost run's install may have been approved at Talkdesk, so it is not rejected before it runs again.
 */
describe('installation workflow: an operator reject of a run resumed from its stored record', function () {
  this.timeout(60_000);
  const { start, env } = useInstallationUnderTest();

  it('a run resumed from a record left installing is not rejected before the install runs again (its approval may have landed)', async () => {
    const t = await start(resumedFromRecord({ phase: 'installing' }));
    await t.until('the resumed run loaded its record', (v) => v.activeClientId === 'client-lost-run');
    // Before, the reject ran at once: Talkdesk showing the install completed, it was undone all the same (ended rejected).
    const why = await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'fraud check' }] }));
    assert.match(why, /Cannot reject yet: the install a lost run left is being resumed/);
    await t.send(t.event('app.installed'));
    const v = await t.settled('active');
    assert.deepEqual([v.operatorActions, t.stubs.of('undoProvisioning')], [[], []]);
  });

  it('nor while the new run is still loading its stored record (the store failing): refused until it has', async () => {
    let storeBack = false;
    const failing = deferred();
    const stubs = resumedFromRecord({ phase: 'installing' }).on('loadInstallation', async () => {
      if (!storeBack) {
        failing.resolve();
        throw unavailable();
      }
      return {
        appId: 'app-1',
        accountId: 'acct-1',
        activeClientId: 'client-lost-run',
        links: { root: 'https://api.talkdesk.test' },
        phase: 'installing',
      };
    });
    const t = await start(stubs);
    await failing.promise;
    // Reconciliation hands the lost run's install over again: queued while the record loads.
    const install = t.event('app.installed');
    await t.send(install);
    // Before, accepted: once the record loaded, the reject ran ahead of the install and undid it though Talkdesk showed it completed.
    const why = await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'fraud check' }] }));
    assert.match(why, /Cannot reject yet: the run is loading its stored record/);
    storeBack = true;
    const v = await t.settled('active');
    assert.deepEqual([v.operatorActions, t.stubs.of('undoProvisioning')], [[], []]);
    assert.ok(v.history.some((h) => h.eventId === install.eventId && h.result === 'approved'));
  });

  it('nor in the first activation of a run reconciliation started to resume a lost one (update-with-start): refused', async () => {
    // Delivered with the start, the reject is validated as the handlers register, before the load has begun.
    const installationId = `inst-${randomBytes(4).toString('hex')}`;
    stubsByInstallation.set(installationId, resumedFromRecord({ phase: 'installing' }));
    const workflowId = workflowIdFor(installationId);
    try {
      const started = new WithStartWorkflowOperation('installationWorkflow', {
        workflowId,
        taskQueue: await sharedWorker(env()),
        args: [{ installationId, options: TEST_OPTIONS, resumedByReconciliation: true }],
        workflowIdConflictPolicy: 'FAIL',
      });
      const why = await refusal(
        env().client.workflow.executeUpdateWithStart(rejectUpdate, { args: [{ reason: 'fraud check' }], startWorkflowOperation: started }),
      );
      assert.match(why, /Cannot reject yet: the run is loading its stored record/);
    } finally {
      await env()
        .client.workflow.getHandle(workflowId)
        .terminate('test over')
        .catch(() => undefined);
      stubsByInstallation.delete(installationId);
    }
  });
});
