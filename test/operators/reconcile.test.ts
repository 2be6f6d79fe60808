import assert from 'node:assert/strict';
import { parseEvent, toLifecycleEvent } from '../../src/events/schemas';
import { COLLECTIONS } from '../../src/store';
import { workflowIdFor } from '../../workflows/definitions';
import type { ReconcileReport } from '../../workflows/reconcile-types';
import type { TestSystem } from '../support/system';
import { eventually, finalView, queryState, waitForPhase } from '../support/waits';
import { installActive, runReconcile, stuckInstalling, useSystemPerTest } from './reconcile-support';

describe('scheduled reconciliation repairs drift (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystemPerTest((s) => (sys = s));

  let lastRunId = '';
  const reconcile = (pageSize = 200, parallelism = 4): Promise<ReconcileReport> => {
    lastRunId = `reconcile-${Date.now()}`;
    // Every installation due at Talkdesk: these cases are about what a read finds (the window: reconcile-budget.test.ts).
    return runReconcile(sys, { pageSize, parallelism, activeCheckHours: 0 }, lastRunId);
  };

  const install = () => installActive(sys);

  it('resumes an active installation whose workflow is gone, from the stored state', async () => {
    const { installation, event } = await install();
    await sys.client.workflow.getHandle(workflowIdFor(installation.id)).terminate('lost in a test');
    const report = await reconcile();
    assert.deepEqual(report.resumed, [installation.id]);
    const view = await waitForPhase(sys.client, installation.id, 'active');
    assert.equal(view.accountId, event.data.account_id);
    assert.equal(view.activeClientId, event.data.client_id);
    // The resumed workflow still carries the installation forward.
    await sys.simulator.deliver(sys.simulator.uninstall(installation.id), { callbackUrl: sys.web.callbackUrl });
    assert.equal((await finalView(sys.client, installation.id)).phase, 'uninstalled');
  });

  it('resumes a rotation whose workflow was lost before its acknowledgement: acknowledged and switched to', async () => {
    const { installation, event } = await install();
    sys.simulator.failNext('credentialsState', 1_000, { status: 500 });
    const rotation = sys.simulator.rotateCredentials(installation.id, { compromised: false });
    await sys.simulator.deliver(rotation, { callbackUrl: sys.web.callbackUrl });
    await eventually('the acknowledgement to be retrying', async () => {
      const v = await queryState(sys.client, installation.id);
      return /acknowledge the rotation/.test(v.lastError ?? '') ? v : undefined;
    });
    await sys.client.workflow.getHandle(workflowIdFor(installation.id)).terminate('lost in a test');
    sys.simulator.clearFaults();
    // The record shows the installation active: only the stored rotation says that one is owed.
    assert.equal((await sys.store.installations.get(installation.id))?.phase, 'active');
    const report = await reconcile();
    assert.deepEqual(report.resumed, [installation.id]);
    const v = await eventually('the rotation to be switched to', async () => {
      const s = await queryState(sys.client, installation.id);
      return s.activeClientId === rotation.data.client_id ? s : undefined;
    });
    assert.deepEqual(
      v.retiringCredentials.map((r) => r.clientId),
      [event.data.client_id],
    );
    assert.ok(
      sys.simulator.credentialsStateCalls(installation.id).some((c) => c.status === 202),
      'acknowledged at Talkdesk',
    );
  });

  it('resumes a rotation lost after its acknowledgement landed: the 409 it then meets completes it', async () => {
    const { installation } = await install();
    // The acknowledgement takes effect at Talkdesk; its answer comes too late for the lost run.
    sys.simulator.failNext('credentialsState', 1, { delayMs: 3_000 });
    const rotation = sys.simulator.rotateCredentials(installation.id, { compromised: false });
    await sys.simulator.deliver(rotation, { callbackUrl: sys.web.callbackUrl });
    await eventually('the acknowledgement to reach Talkdesk', async () =>
      sys.simulator.credentialsStateCalls(installation.id).length > 0 ? true : undefined,
    );
    await sys.client.workflow.getHandle(workflowIdFor(installation.id)).terminate('lost in a test');
    const report = await reconcile();
    assert.deepEqual(report.resumed, [installation.id]);
    const v = await eventually('the rotation to be switched to', async () => {
      const s = await queryState(sys.client, installation.id);
      return s.activeClientId === rotation.data.client_id ? s : undefined;
    });
    assert.equal(v.history.at(-1)?.result, 'rotated');
    // The first answer (late) goes to nobody; the resumed run's 409 was taken as acknowledged.
    const statuses = await eventually('both answers', async () => {
      const all = sys.simulator.credentialsStateCalls(installation.id).map((c) => c.status);
      return all.every((x) => x !== 0) ? all : undefined;
    });
    assert.deepEqual(statuses, [202, 409]);
  });

  it('resumes an install whose workflow died mid-phase by handing its event over again', async () => {
    const created = await stuckInstalling(sys);
    await sys.client.workflow.getHandle(workflowIdFor(created.installation.id)).terminate('lost in a test');
    sys.simulator.clearFaults();
    const report = await reconcile();
    assert.deepEqual(report.resumed, [created.installation.id]);
    await waitForPhase(sys.client, created.installation.id, 'active');
    assert.equal(sys.simulator.stateCalls(created.installation.id).filter((c) => c.status === 200).length, 1);
  });

  it('approves again an install Talkdesk still shows as installing', async () => {
    const { installation } = await install();
    sys.simulator.setInstallationState(installation.id, 'installing');
    const report = await reconcile();
    assert.deepEqual(report.reapproved, [installation.id]);
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'completed');
    assert.equal(sys.simulator.stateCalls(installation.id).length, 2);
  });

  it('never approves an install this service did not approve: reported as drift, nothing sent', async () => {
    const { installation } = await install();
    assert.ok((await sys.store.installations.get(installation.id))?.installApprovedAt, 'the approval is on record');
    await sys.store.installations.coll.updateOne({ _id: installation.id }, { $unset: { installApprovedAt: '' } });
    sys.simulator.setInstallationState(installation.id, 'installing');
    const report = await reconcile();
    assert.deepEqual([report.reapproved, report.drift], [[], [installation.id]]);
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'installing');
    assert.equal(sys.simulator.stateCalls(installation.id).length, 1, 'only the workflow approval');
  });

  it('never sends a state call for a pending operation (an update whose event is not delivered yet)', async () => {
    const { installation } = await install();
    sys.simulator.updateUsers(installation.id, { add: 1 });
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'pending');
    const report = await reconcile();
    assert.equal(report.scanned, 1);
    assert.deepEqual(report.counts, { resumed: 0, reapproved: 0, deprovisioned: 0, markedActive: 0, updatesEnded: 0, drift: 0, errors: 0 });
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'pending');
    assert.equal(sys.simulator.stateCalls(installation.id).length, 1, 'only the install approval');
  });

  it('a Talkdesk timeout of an update does not deprovision the installation: only the update ends', async () => {
    const { installation, event } = await install();
    // Talkdesk does not answer the update's approval: the update waits here.
    sys.simulator.failNext('installationState', 1_000, { status: 500 });
    await sys.simulator.deliver(sys.simulator.updateUsers(installation.id, { add: 1 }), { callbackUrl: sys.web.callbackUrl });
    await eventually('the update to be stuck approving', async () => {
      const v = await queryState(sys.client, installation.id);
      return v.phase === 'updating' && v.currentStep?.includes('approve') ? v : undefined;
    });
    sys.simulator.setInstallationState(installation.id, 'timeout', 'customer took too long');
    // Either reconciliation ends the update, or the workflow's next retry reads the timeout first (nothing sent).
    const report = await reconcile();
    assert.deepEqual(report.deprovisioned, []);
    const view = await eventually('the update to end', async () => {
      const v = await queryState(sys.client, installation.id);
      return v.phase === 'active' && v.history.at(-1)?.phase === 'updating' && v.history.at(-1)?.endedAt ? v : undefined;
    });
    const sentBy = sys.simulator.stateCalls(installation.id).length;
    const ended = [view.history.at(-1)?.result, view.history.at(-1)?.detail];
    const byItsRetry = ['not-open', 'Talkdesk shows timeout (customer took too long)'];
    // The pass's signal can reach a workflow whose own retry read the timeout a moment before (a busy
    // machine): the update then ended by that retry, and the signal found nothing left to end.
    if (report.updatesEnded.length > 0)
      assert.ok(
        [JSON.stringify(['interrupted', 'Talkdesk reporting timeout']), JSON.stringify(byItsRetry)].includes(JSON.stringify(ended)),
        JSON.stringify(ended),
      );
    else assert.deepEqual(ended, byItsRetry);
    assert.equal((await sys.store.accounts.getAccount(event.data.account_id))?.status, 'provisioned');
    // An active installation whose update timed out at Talkdesk is reported, never deprovisioned.
    const again = await reconcile();
    assert.deepEqual([again.drift, again.deprovisioned], [[installation.id], []]);
    assert.equal((await queryState(sys.client, installation.id)).phase, 'active');
    sys.simulator.clearFaults();
    // Bodies are recorded before the fault answers them: none rejects the update, and nothing is sent once it ended.
    const calls = sys.simulator.stateCalls(installation.id);
    assert.ok(calls.length >= 2, 'the install approval and the update approval tried');
    assert.ok(!calls.some((c) => (c.body as { state?: string }).state === 'reject'), 'no rejection of the timed-out update');
    assert.equal(calls.length, sentBy, 'no state call after the update ended');
  });

  it('compares final phases with Talkdesk: completed there for an install expired here is reported, nothing sent', async () => {
    const { installation } = await install();
    // The state an approval landing after the deadline left (credentials not yet destroyed).
    await sys.store.installations.coll.updateOne({ _id: installation.id }, { $set: { phase: 'expired' } });
    const report = await reconcile();
    assert.deepEqual(report.drift, [installation.id]);
    assert.equal(sys.simulator.stateCalls(installation.id).length, 1);
  });

  it('keeps an approved installation Talkdesk shows rejected (an update it rejected): nothing deprovisioned, no drift', async () => {
    const { installation, event } = await install();
    sys.simulator.setInstallationState(installation.id, 'rejected');
    const report = await reconcile();
    assert.deepEqual([report.deprovisioned, report.drift], [[], []]);
    assert.equal((await queryState(sys.client, installation.id)).phase, 'active');
    assert.equal((await sys.store.accounts.getAccount(event.data.account_id))?.status, 'provisioned');
    assert.ok((await sys.store.credentials.list(installation.id)).some((c) => c.status === 'active'));
  });

  it('deprovisions an installation Talkdesk reports revoked', async () => {
    const { installation, event } = await install();
    sys.simulator.setInstallationState(installation.id, 'revoked');
    const report = await reconcile();
    assert.deepEqual(report.deprovisioned, [installation.id]);
    const view = await finalView(sys.client, installation.id);
    assert.equal(view.phase, 'uninstalled');
    assert.deepEqual([view.history.at(-1)?.result, view.history.at(-1)?.detail], ['deprovisioned', 'Talkdesk reports revoked']);
    assert.equal((await sys.store.accounts.getAccount(event.data.account_id))?.status, 'disabled');
    const creds = await sys.store.credentials.list(installation.id);
    assert.ok(creds.length > 0 && creds.every((c) => c.status === 'destroyed'), 'the set kept, destroyed');
  });

  it("a revoke's deprovision takes Talkdesk's time of it as the end: the uninstall that ended it, delivered after, is ignored", async () => {
    const { installation } = await install();
    const uninstall = sys.simulator.uninstall(installation.id); // its delivery lost: reconciliation finds the end first
    const before = Date.now();
    sys.simulator.setInstallationState(installation.id, 'revoked');
    const after = Date.now();
    assert.deepEqual((await reconcile()).deprovisioned, [installation.id]);
    await finalView(sys.client, installation.id);
    const ended = (await sys.store.installations.get(installation.id))?.uninstallEventAt;
    assert.ok(ended && Date.parse(ended) >= before && Date.parse(ended) <= after, `the end at the state's updated_at: ${ended}`);
    assert.equal(await sys.simulator.deliver(uninstall, { callbackUrl: sys.web.callbackUrl }), 200);
    const view = await eventually('the uninstall handled by a run of its own', async () => {
      const v = await finalView(sys.client, installation.id);
      return v.ignoredEvents.some((e) => e.eventId === uninstall.id) ? v : undefined;
    });
    assert.match(view.ignoredEvents.find((e) => e.eventId === uninstall.id)?.reason ?? '', /already uninstalled/);
    assert.ok(!view.history.some((h) => h.phase === 'uninstalling'), 'no second uninstall phase');
    const rec = await sys.store.installations.get(installation.id);
    assert.deepEqual([rec?.phase, rec?.uninstallEventAt], ['uninstalled', ended], 'the end kept as found');
  });

  it('hands over stored events that were never dispatched and destroys credentials past retention', async () => {
    const { installation, event } = await install();
    // An event stored while Temporal was down, its dispatch never retried.
    const uninstall = sys.simulator.uninstall(installation.id);
    const parsed = parseEvent(uninstall);
    assert.ok(parsed.ok);
    await sys.web.dispatcher.stop();
    await sys.store.inbox.insert({
      _id: uninstall.id,
      installationId: installation.id,
      type: 'app.uninstalled',
      createdAt: new Date(uninstall.created_at),
      receivedAt: new Date(),
      event: toLifecycleEvent(parsed.event),
    });
    // ...and its queue entry lost (the queue write failed): only the inbox has it.
    await sys.store.db.collection(COLLECTIONS.dispatchQueue).deleteOne({ _id: uninstall.id as never });
    assert.equal(await sys.store.inbox.countUndispatched(), 0);
    await sys.store.credentials.scheduleRetirement(installation.id, event.data.client_id, new Date(Date.now() - 1_000));

    const report = await reconcile();
    assert.equal(report.dispatchedEvents, 1);
    assert.equal(report.credentialsDestroyed, 1);
    assert.ok((await sys.store.inbox.get(uninstall.id))?.dispatchedAt);
    assert.equal((await finalView(sys.client, installation.id)).phase, 'uninstalled');
  });

  it('works in pages and reports what it scanned', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await install()).installation.id);
    await sys.client.workflow.getHandle(workflowIdFor(ids[3]!)).terminate('lost in a test');
    const report = await reconcile(2, 2);
    assert.equal(report.scanned, 5);
    assert.deepEqual(report.resumed, [ids[3]]);
    assert.equal(report.counts.resumed, 1);
    assert.equal(report.errors.length, 0);
    assert.ok(report.finishedAt);
    // A page is one activity: the history grows with pages, not with installations.
    const history = await sys.client.workflow.getHandle(lastRunId).fetchHistory();
    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
    assert.equal(scheduled.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'reconcilePlannedPage').length, 3);
  });
});

describe('scheduled reconciliation: an install stuck approving here (a ten-minute backoff, dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystemPerTest((s) => (sys = s), { workflowOptions: { retryInitialMs: 600_000, retryMaxMs: 600_000 } });

  it('an install Talkdesk completed while it is stuck here ends approved from what Talkdesk shows, nothing sent', async () => {
    const created = await stuckInstalling(sys);
    sys.simulator.setInstallationState(created.installation.id, 'completed');
    // Whatever it would be answered (the faults answer 500 until the test ends): no state call at all from here.
    const callsBefore = sys.simulator.stateCalls(created.installation.id).length;
    const report = await runReconcile(sys, { pageSize: 200, parallelism: 4, activeCheckHours: 0 });
    assert.deepEqual(report.markedActive, [created.installation.id]);
    // Within the wait's 30 s: the install's own retry is ten minutes away.
    const view = await waitForPhase(sys.client, created.installation.id, 'active');
    // The pass's markActive made the approval retry at once; the retry read `completed` at Talkdesk.
    assert.equal(view.history.at(-1)?.result, 'approved', JSON.stringify(view.history.at(-1)));
    assert.equal(sys.simulator.stateCalls(created.installation.id).length, callsBefore, 'no approval sent');
    assert.equal((await sys.store.accounts.getAccount(created.event.data.account_id))?.status, 'provisioned');
  });

  // The install's own retry is ten minutes away: what ends these is the pass's signal, not the workflow's next read.
  for (const [state, phase] of [
    ['timeout', 'expired'],
    ['rejected', 'rejected'],
  ] as const) {
    it(`an install Talkdesk shows ${state} while it waits here is deprovisioned by the pass: ends ${phase}, undone, no reject sent`, async () => {
      const created = await stuckInstalling(sys);
      sys.simulator.setInstallationState(created.installation.id, state);
      const report = await runReconcile(sys, { pageSize: 200, parallelism: 4, activeCheckHours: 0 });
      assert.deepEqual([report.deprovisioned, report.markedActive], [[created.installation.id], []]);
      const view = await finalView(sys.client, created.installation.id);
      assert.equal(view.phase, phase);
      assert.equal(view.history.at(-1)?.result, 'deprovisioned', JSON.stringify(view.history.at(-1)));
      // Never approved: its provisioning undone, the account removed (not only disabled, as an uninstall leaves it).
      const accountId = created.event.data.account_id;
      assert.equal(await sys.store.accounts.getAccount(accountId), null, 'provisioning undone');
      assert.deepEqual(await sys.store.accounts.listUsers(accountId), [], 'no user mapping left');
      sys.simulator.clearFaults();
      assert.ok(!sys.simulator.stateCalls(created.installation.id).some((c) => (c.body as { state?: string }).state === 'reject'));
    });
  }
});
