import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { planPass } from '../../activities/reconcile-plan';
import { createLogger } from '../../src/logging/logger';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { StateCallInput } from '../../workflows/activity-types';
import { useSystem, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';

const HOUR = 3_600_000;

/** The state call activity against the simulator: a call Talkdesk answers 409 reads the state and follows the table. */
describe('setInstallationState activity: only what Talkdesk shows open is concluded (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  /** The defaults: a 24-hour window, 120 reads a minute over half of a 15-minute interval. */
  const PASS = { pageSize: 200, activeCheckMs: 24 * HOUR, callsPerMinute: 120, budgetMinutes: 7 };

  const activities = () =>
    createActivities({
      store: sys.store,
      talkdesk: new TalkdeskClient({ allowedHosts: [`127.0.0.1:${sys.simulator.port}`], timeoutMs: 5_000 }),
      logger: createLogger({ level: 'silent' }),
    });

  async function activeInstallation() {
    const { installation, event } = sys.simulator.createInstallation();
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, installation.id, 'active');
    const input = (concludes: StateCallInput['concludes']): StateCallInput => ({
      installationId: installation.id,
      appId: sys.simulator.appId,
      clientId: event.data.client_id,
      rootUrl: event._links.root.href,
      state: 'approve',
      concludes,
    });
    return { id: installation.id, input };
  }

  it('a first attempt answered 409 for what is already concluded returns concluded; nothing else is sent', async () => {
    const { id, input } = await activeInstallation();
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, input('install'));
    assert.deepEqual(res, { state: 'completed', alreadyConcluded: true });
    assert.deepEqual(
      sys.simulator.stateCalls(id).map((c) => c.status),
      [200, 409],
    );
  });

  it('a first attempt answered 403 (the reference does not say why) reads what Talkdesk shows: concluded, nothing more sent', async () => {
    const { id, input } = await activeInstallation();
    sys.simulator.failNext('installationState', 1, { status: 403, body: { error: 'forbidden' } });
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, input('install'));
    assert.deepEqual(res, { state: 'completed', alreadyConcluded: true });
    assert.deepEqual(
      sys.simulator.stateCalls(id).map((c) => c.status),
      [200, 403],
    );
  });

  it('an update approval when Talkdesk shows the install timed out sends nothing and says what Talkdesk shows', async () => {
    const { id, input } = await activeInstallation();
    const lastRead = new Date(Date.now() - 25 * HOUR);
    await sys.store.installations.markTalkdeskChecked(id, lastRead);
    sys.simulator.setInstallationState(id, 'timeout', 'customer took too long');
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, { ...input('update'), checkFirst: true });
    assert.deepEqual(res, { state: 'timeout', notSent: true, reason: 'customer took too long' });
    assert.equal(sys.simulator.stateCalls(id).length, 1, 'only the install approval');
    assert.deepEqual(
      (await sys.store.installations.get(id))?.talkdeskCheckedAt,
      lastRead,
      'what Talkdesk showed may be drift: reconciliation still reads it in its window',
    );
  });

  it("an update approval Talkdesk answered starts reconciliation's window again: a pass right after does not read it", async () => {
    const { id, input } = await activeInstallation();
    await sys.store.installations.markTalkdeskChecked(id, new Date(Date.now() - 25 * HOUR));
    const readInPass = async () =>
      planPass(await sys.store.installations.scanForReconciliation(), new Date(), PASS)
        .pages.flat()
        .some((e) => e.id === id && e.slot !== undefined);
    assert.equal(await readInPass(), true, 'read 25 hours ago: due');
    sys.simulator.updateUsers(id, { add: 1 }); // pending at Talkdesk; the activity alone approves it
    const before = Date.now();
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, input('update'));
    assert.deepEqual(res, { state: 'completed' });
    const checkedAt = (await sys.store.installations.get(id))?.talkdeskCheckedAt?.getTime() ?? 0;
    assert.ok(checkedAt >= before, 'the answer is a read of Talkdesk');
    assert.equal(await readInPass(), false);
  });

  it('an uninstall acknowledgement is not sent for an install still installing', async () => {
    const { id, input } = await activeInstallation();
    sys.simulator.setInstallationState(id, 'installing');
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, { ...input('uninstall'), checkFirst: true });
    assert.equal((res as { notSent?: boolean }).notSent, true);
    assert.equal(sys.simulator.getInstallation(id)?.state, 'installing');
    assert.equal(sys.simulator.stateCalls(id).length, 1);
  });

  it('a late update sends nothing: what Talkdesk has open (pending) is a newer operation, its own was concluded', async () => {
    const { id, input } = await activeInstallation();
    sys.simulator.updateUsers(id, { add: 1 }); // an update opened after the newer one the late update is older than
    const late = { ...input('update'), late: true, checkFirst: true };
    assert.deepEqual(await new MockActivityEnvironment().run(activities().setInstallationState, late), {
      state: 'pending',
      alreadyConcluded: true,
    });
    assert.equal(sys.simulator.getInstallation(id)?.state, 'pending', 'the newer update is left to its own phase');
    const reject = { ...late, state: 'reject' as const, reason: 'Update failed' };
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, reject);
    assert.deepEqual(res, { state: 'pending', notSent: true });
    assert.equal(sys.simulator.stateCalls(id).length, 1, 'only the install approval');

    // Talkdesk's state cannot be read at all (404: the read is not retried): still never sent.
    sys.simulator.failNext('installation', 2, { status: 404 });
    const run = (call: StateCallInput) => new MockActivityEnvironment().run(activities().setInstallationState, call);
    assert.deepEqual(await run(late), { state: 'unknown', alreadyConcluded: true }, 'concluded by the newer update');
    assert.deepEqual(await run(reject), { state: 'unknown', notSent: true });
    assert.equal(sys.simulator.stateCalls(id).length, 1, 'nothing sent blind');
  });

  it('a last read at a deadline (readInstallationState) never sends: concluded when Talkdesk shows it so, else what it shows', async () => {
    const { id, input } = await activeInstallation();
    const read = ({ state: _state, ...ref }: StateCallInput) =>
      new MockActivityEnvironment().run(activities().readInstallationState, { ...ref, concludes: ref.concludes as 'install' | 'update' });
    const before = Date.now();
    assert.deepEqual(await read(input('install')), { state: 'completed', alreadyConcluded: true });
    const approvedAt = (await sys.store.installations.get(id))?.installApprovedAt?.getTime() ?? 0;
    assert.ok(approvedAt >= before, 'an install found approved is recorded so, by the read');
    sys.simulator.updateUsers(id, { add: 1 }); // an update open at Talkdesk
    assert.deepEqual(await read(input('update')), { state: 'pending', notSent: true });
    // An install read then (its approval landed, an update opened since) counts as concluded, with no evidence to record.
    assert.deepEqual(await read(input('install')), { state: 'pending', alreadyConcluded: true });
    assert.equal((await sys.store.installations.get(id))?.installApprovedAt?.getTime(), approvedAt, 'not recorded again from pending');
    assert.equal(sys.simulator.getInstallation(id)?.state, 'pending', 'left open: nothing approved');
    assert.equal(sys.simulator.stateCalls(id).length, 1, 'only the install approval was ever sent');
  });

  it('an approval Talkdesk took but answered with an undocumented body counts as landed, from what Talkdesk then shows', async () => {
    const { id, input } = await activeInstallation();
    sys.simulator.updateUsers(id, { add: 1 }); // pending at Talkdesk; the activity alone approves it
    sys.simulator.failNext('installationState', 1, { delayMs: 0, body: { ok: true } });
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, input('update'));
    assert.deepEqual(res, { state: 'completed', alreadyConcluded: true });
    assert.deepEqual(
      sys.simulator.stateCalls(id).map((c) => c.status),
      [200, 200],
      'sent once: the read showed it concluded',
    );

    // Still open after such an answer: nothing to count as landed, the protocol error stands.
    sys.simulator.updateUsers(id, { add: 1 });
    sys.simulator.failNext('installationState', 1, { status: 200, body: { ok: true } });
    await assert.rejects(new MockActivityEnvironment().run(activities().setInstallationState, input('update')), /invalid body/);
    assert.equal(sys.simulator.getInstallation(id)?.state, 'pending');
  });
});
