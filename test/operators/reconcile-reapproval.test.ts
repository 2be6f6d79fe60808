import assert from 'node:assert/strict';
import { ServiceError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { reconciliationActivities } from '../../activities/reconciliation';
import { createLogger } from '../../src/logging/logger';
import { COLLECTIONS } from '../../src/store';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { PageResult } from '../../workflows/reconcile-types';
import { workflowIdFor } from '../../workflows/definitions';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { recordingTemporal, type Asked } from '../support/recording-temporal';

/**
 * Reconciliation approves again an install it approved whose answer was lost (Talkdesk still shows it
 * `installing`): within the pass's 429 pause, and a re-approval that did not land is due next pass, not a
 * window later (docs/operations.md, "Reconciliation"). FerretDB, the simulator, activities in-process.
 */
describe('reconciliation: re-approvals, repairs and failures', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** An active installation this service approved, which Talkdesk still shows `installing` (the record's phase as given). */
  async function approvedButInstalling(phase: 'active' | 'installing' = 'active'): Promise<string> {
    const { installation, event } = h.simulator.createInstallation({}, { createdAt: new Date(Date.now() - 3_600_000).toISOString() });
    const installed = await h.storeEvent(event);
    const creds = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });
    await h.run(h.acts.recordInstallation, {
      installationId: installation.id,
      workflowId: workflowIdFor(installation.id),
      appId: h.simulator.appId,
      links: installed.links,
      phase,
      activeClientId: creds.clientId,
    });
    // A minute ago: a check recorded by the pass under test is told apart from this one's.
    await h.store.installations.markInstallApproved(installation.id, new Date(Date.now() - 60_000));
    h.simulator.setInstallationState(installation.id, 'installing');
    return installation.id;
  }

  /** One planned page over `ids`, each with a Talkdesk slot. */
  async function plannedPage(ids: string[], started: number, signalFails?: Error, running = true, attempt = 1): Promise<PageResult> {
    const { temporal, asked } = recordingTemporal(running, undefined, signalFails);
    lastAsked = asked;
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
    const planId = `plan-reapprove-${ids[0]}`;
    await h.store.reconcilePlans.write(planId, [ids.map((id) => ({ id, phase: 'active' as const, slot: 0 }))], new Date());
    try {
      const env = new MockActivityEnvironment({ attempt });
      return (await env.run(acts.reconcilePlannedPage, { planId, page: 0, startedAt: started })) as PageResult;
    } finally {
      h.simulator.clearFaults();
    }
  }

  let lastAsked: Asked | undefined;
  const lastCheck = async (id: string) => (await h.store.installations.lastTalkdeskCheck(id))?.getTime() ?? 0;

  for (const [status, checked] of [
    [403, true], // refused for good (a scope withdrawn): the same call would fail every pass
    [422, true], // refused as sent (Talkdesk no longer takes this approval): likewise, not sent again every pass
    [409, true], // nothing open to approve any more: the next read, a window later, shows what concluded it
    [503, false], // an outage: re-approved next pass, not a window later
  ] as const)
    it(`a re-approval answered ${status} leaves the installation ${checked ? 'recorded as checked' : 'due next pass'}`, async () => {
      const id = await approvedButInstalling();
      h.simulator.failNext('installationState', 5, { status });
      const started = Date.now();
      const result = await plannedPage([id], started);
      assert.deepEqual([result.reapproved, result.errors.map((e) => e.installationId)], [[], [id]]);
      if (checked) assert.ok((await lastCheck(id)) >= started, 'recorded as checked');
      else assert.ok((await lastCheck(id)) < started, 'not recorded as checked');
    });

  it("a 429 on a re-approval pauses the page's Talkdesk calls as a read's does: the next one is left to the next pass", async () => {
    const first = await approvedButInstalling();
    const second = await approvedButInstalling();
    const calls: [string | undefined, string, number][] = [];
    const unsubscribe = h.simulator.onCall((c) => {
      if (c.route === 'installation' || c.route === 'installationState') calls.push([c.installationId, c.route, c.status]);
    });
    h.simulator.failNext('installationState', 1, { status: 429, retryAfterSeconds: 30 });
    const started = Date.now();
    const result = await plannedPage([first, second], started).finally(unsubscribe);
    assert.deepEqual(
      calls,
      [
        [first, 'installation', 200],
        [first, 'installationState', 429],
      ],
      'nothing sent for the second inside the pause',
    );
    assert.deepEqual(result.reapproved, []);
    assert.deepEqual(
      result.errors.map((e) => e.installationId),
      [first, second],
    );
    assert.match(result.errors[1]?.message ?? '', /asked to slow down \(429\) for 3\d s more; read next pass/);
    assert.equal(h.simulator.getInstallation(second)?.state, 'installing', 'approved next pass, not now');
    // Neither recorded as checked, though the first was read: both re-approvals are due next pass, not a window later.
    for (const id of [first, second]) assert.ok((await lastCheck(id)) < started, id);
  });

  it("a 429 from one account's token endpoint (its own identity host) does not pause the API host's reads of other installations", async () => {
    const first = await approvedButInstalling();
    const second = await approvedButInstalling();
    for (const id of [first, second]) h.simulator.setInstallationState(id, 'completed');
    const reads: string[] = [];
    const unsubscribe = h.simulator.onCall(
      (c) => void (c.route === 'installation' && c.status === 200 && reads.push(c.installationId ?? '')),
    );
    h.simulator.failNext('token', 1, { status: 429, retryAfterSeconds: 30 });
    const result = await plannedPage([first, second], Date.now()).finally(unsubscribe);
    assert.deepEqual(
      result.errors.map((e) => e.installationId),
      [first],
      'only the first: its token refused',
    );
    assert.deepEqual(reads, [second], 'the second read at once');
  });

  it('a read a 429 paused goes unanswered: recorded as tried, not checked, and the scan gives the plan that try (its order: test/unit/reconcile-plan.test.ts)', async () => {
    const first = await approvedButInstalling();
    const second = await approvedButInstalling();
    for (const id of [first, second]) h.simulator.setInstallationState(id, 'completed');
    h.simulator.failNext('installation', 1, { status: 429, retryAfterSeconds: 30 });
    const started = Date.now();
    const result = await plannedPage([first, second], started);
    assert.deepEqual(
      result.errors.map((e) => e.installationId),
      [first, second],
    );
    const scanned = (await h.store.installations.scanForReconciliation()).filter((r) => r._id === first || r._id === second);
    assert.equal(scanned.length, 2);
    for (const r of scanned) {
      assert.ok((r.triedAt?.getTime() ?? 0) >= started, `${r._id} recorded as tried`);
      assert.ok((r.talkdeskCheckedAt?.getTime() ?? 0) < started, `${r._id} not recorded as checked`);
    }
    const control = await plannedPage([first], Date.now());
    assert.deepEqual(control.errors, []);
    const after = (await h.store.installations.scanForReconciliation()).find((r) => r._id === first);
    assert.ok(after && after.talkdeskCheckedAt && after.triedAt && after.talkdeskCheckedAt > after.triedAt, 'read since: checked');
  });

  it('a repair signal Temporal does not take (unavailable) leaves the installation due next pass, though Talkdesk was read', async () => {
    // Active, so on the rolling window: recorded as checked, it would wait a whole window for its repair.
    const id = await approvedButInstalling();
    h.simulator.setInstallationState(id, 'revoked'); // revoked at Talkdesk: the repair is the deprovision signal
    const started = Date.now();
    const unavailable = Object.assign(new ServiceError('Temporal unavailable'), {
      cause: Object.assign(new Error('no connection'), { code: 14 }),
    });
    const result = await plannedPage([id], started, unavailable);
    assert.deepEqual([result.deprovisioned, result.talkdeskChecked, result.errors.map((e) => e.installationId)], [[], 1, [id]]);
    assert.ok((await lastCheck(id)) < started, 'not recorded as checked: the repair is tried next pass, not a window later');
    const again = Date.now();
    const control = await plannedPage([id], again);
    assert.deepEqual([control.deprovisioned, control.errors], [[id], []], 'Temporal back: repaired');
    assert.ok((await lastCheck(id)) >= again, 'and recorded as checked');
  });

  it('a re-approval that lands is recorded as checked (control)', async () => {
    const id = await approvedButInstalling();
    const started = Date.now();
    const result = await plannedPage([id], started);
    assert.deepEqual([result.reapproved, result.errors], [[id], []]);
    assert.equal(h.simulator.getInstallation(id)?.state, 'completed');
    assert.ok((await lastCheck(id)) >= started, 'recorded as checked');
  });

  it('a lost workflow resumed by its visit (Talkdesk not read) is recorded as tried: still due, behind the others next pass', async () => {
    const id = await approvedButInstalling('installing');
    const started = Date.now();
    const result = await plannedPage([id], started, undefined, false);
    assert.deepEqual(result.resumed, [id]);
    const [scanned] = (await h.store.installations.scanForReconciliation()).filter((r) => r._id === id);
    assert.ok((scanned?.triedAt?.getTime() ?? 0) >= started, 'recorded as tried');
    assert.ok((await lastCheck(id)) < started, 'not as checked: Talkdesk was not read');
  });

  it("a page's retried attempt skips what an earlier attempt read and recorded in this pass: no second read, no second repair", async () => {
    const checked = await approvedButInstalling();
    const unread = await approvedButInstalling();
    for (const id of [checked, unread]) h.simulator.setInstallationState(id, 'revoked');
    const started = Date.now();
    // The first attempt got through the first installation (deprovision signalled, recorded as checked), then died.
    const first = await plannedPage([checked], started);
    assert.deepEqual(first.deprovisioned, [checked]);
    // A workflow's own Talkdesk check during the pass (an approval answered) is no read of this pass: still read.
    await h.store.installations.markInstallApproved(unread, new Date());
    const reads: string[] = [];
    const unsubscribe = h.simulator.onCall((c) => void (c.route === 'installation' && reads.push(c.installationId ?? '')));
    const retry = await plannedPage([checked, unread], started, undefined, true, 2).finally(unsubscribe);
    assert.deepEqual(retry.deprovisioned, [unread], 'only the one the first attempt had not reached');
    assert.deepEqual(lastAsked?.signals.length, 1);
    assert.deepEqual(reads, [unread], 'Talkdesk read once for each in the pass');
  });

  it("the skip does not compare clocks: the first attempt's worker recorded its check by a clock behind the planner's, the retry still skips", async () => {
    const checked = await approvedButInstalling();
    h.simulator.setInstallationState(checked, 'revoked');
    const started = Date.now();
    const first = await plannedPage([checked], started);
    assert.deepEqual(first.deprovisioned, [checked]);
    // As a worker 3 s behind the planning one records it.
    await h.db
      .collection<{ _id: string }>(COLLECTIONS.talkdeskChecks)
      .updateOne({ _id: checked }, { $set: { at: new Date(started - 3_000) } });
    const reads: string[] = [];
    const unsubscribe = h.simulator.onCall((c) => void (c.route === 'installation' && reads.push(c.installationId ?? '')));
    const retry = await plannedPage([checked], started, undefined, true, 2).finally(unsubscribe);
    assert.deepEqual(retry.deprovisioned, [], 'not repaired twice');
    assert.deepEqual(reads, [], 'not read twice');
  });
});
