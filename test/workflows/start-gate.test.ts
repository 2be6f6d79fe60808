import assert from 'node:assert/strict';
import { reconcileSignal, rejectUpdate } from '../../workflows/definitions';
import { ActivityStubs, DAY, InstallationUnderTest, clientIdFor, deferred, phases, unavailable, useTimeSkippingEnv } from './harness';

/**
 * An interrupting event that arrives between a phase's record (`beginPhase`, a local
 * activity) and the moment its body opens its cancellation scope: the phase's start
 * gate stops it at once, as the same event during the phase would.
 */
describe('installation workflow: an interrupt as a phase starts (start gate)', function () {
  this.timeout(60_000);
  const env = useTimeSkippingEnv();
  let t: InstallationUnderTest | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /**
   * The first record of `phase` fails (the store unavailable) once `release` is called: the phase then waits
   * for its retry, in the gap between `beginPhase` and its body. An event sent before the release reaches
   * the workflow in that backoff (a signal sent while a local activity runs is delivered with the task after it).
   */
  const failFirstRecordOf = (stubs: ActivityStubs, phase: string) => {
    const reached = deferred();
    const release = deferred();
    let failed = false;
    stubs.on('recordInstallation', async (i) => {
      if (i.phase === phase && !failed) {
        failed = true;
        reached.resolve();
        await release.promise;
        throw new Error('partner store unavailable');
      }
      return undefined;
    });
    return { reached: reached.promise, release: () => release.resolve() };
  };

  /** Talkdesk never answers the approval of `concludes`: the phase would retry it until its deadline. */
  const failingApproval = (concludes: string) =>
    new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.state === 'approve' && i.concludes === concludes) throw unavailable();
      return { state: i.state === 'approve' ? 'completed' : 'rejected' };
    });

  /** An active installation whose update's phase record has just failed once: the update waits in its gap. */
  const updateInItsGap = async (): Promise<{ started: InstallationUnderTest; release: () => void }> => {
    const stubs = failingApproval('update');
    const gap = failFirstRecordOf(stubs, 'updating');
    const started = await InstallationUnderTest.start(env(), stubs);
    await started.send(started.event('app.installed'));
    await started.settled('active');
    await started.send(started.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    await gap.reached;
    return { started, release: gap.release };
  };

  it('an uninstall in the gap stops an update at once, not after a week of failing approvals', async () => {
    const gap = await updateInItsGap();
    t = gap.started;
    // Accepted by the server while the phase record runs: delivered before the update's body begins.
    await t.send(t.event('app.uninstalled'));
    gap.release();
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(phases(done), ['installing', 'updating', 'uninstalling']);
    const update = done.history[1]!;
    assert.equal(update.result, 'interrupted', `the update ended ${update.result}: ${update.outcome}`);
    assert.equal(update.detail, 'uninstall');
    assert.ok(!t.stubs.names().includes('applyUpdate'), 'the update body never ran');
    assert.ok(!t.stubs.names().includes('revertUpdate'), 'nothing applied, nothing to revert');
    // No approval or rejection of the update: as an uninstall during the update, Talkdesk hears only the acknowledgement.
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:uninstall']);
    const took = Date.parse(update.endedAt!) - Date.parse(update.startedAt);
    assert.ok(took < DAY, `the update ended ${took} ms after it began: the uninstall waited for it`);
  });

  it('an uninstall in the gap stops an install; its credentials are imported, so the uninstall is acknowledged', async () => {
    const stubs = failingApproval('install');
    const gap = failFirstRecordOf(stubs, 'installing');
    t = await InstallationUnderTest.start(env(), stubs);
    const install = t.event('app.installed');
    await t.send(install);
    await gap.reached;
    await t.send(t.event('app.uninstalled'));
    gap.release();
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(phases(done), ['installing', 'uninstalling']);
    assert.equal(done.history[0]!.result, 'interrupted', `the install ended ${done.history[0]!.result}: ${done.history[0]!.outcome}`);
    assert.equal(done.history[0]!.detail, 'uninstall');
    assert.equal(done.history[1]!.result, 'acknowledged');
    const names = t.stubs.names();
    assert.ok(!names.includes('provisionAccount'), 'provisioning never began');
    assert.equal(t.stubs.of('undoProvisioning').length, 1, 'undone as an interrupted install is');
    assert.ok(names.indexOf('undoProvisioning') < names.indexOf('deprovisionAccount'), 'before the deprovision');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:uninstall'], 'never approved; the uninstall acknowledged');
    assert.equal(t.stubs.of('setInstallationState')[0]?.clientId, clientIdFor(install.eventId), "with the install's credentials");
    const took = Date.parse(done.history[0]!.endedAt!) - Date.parse(done.history[0]!.startedAt);
    assert.ok(took < DAY, `the install ended ${took} ms after it began`);
  });

  it("an uninstall while the install's import retries: its credentials are imported, so the uninstall is acknowledged (patches-decided-at-start-12)", async () => {
    let imports = 0;
    const stubs = failingApproval('install').on('importCredentials', async (i) => {
      imports += 1;
      if (imports === 1) throw new Error('partner store unavailable');
      return { clientId: clientIdFor(String(i.eventId)), keyId: 'key-1', keyAlgorithm: 'ES256' };
    });
    // An hour's backoff after the failed import: the uninstall certainly lands while it waits.
    t = await InstallationUnderTest.start(env(), stubs, { retryInitialMs: 3_600_000 });
    const install = t.event('app.installed');
    await t.send(install);
    await t.until('the import to be in its backoff', (v) => v.phase === 'installing' && v.lastError !== undefined);
    await t.send(t.event('app.uninstalled'));
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual([done.history[0]!.result, done.history[0]!.detail], ['interrupted', 'uninstall']);
    assert.equal(done.history[1]!.result, 'acknowledged', done.history[1]!.outcome);
    assert.ok(!t.stubs.names().includes('provisionAccount'), 'provisioning never began');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:uninstall'], 'never approved; the uninstall acknowledged');
    assert.equal(t.stubs.of('setInstallationState')[0]?.clientId, clientIdFor(install.eventId), "with the install's credentials");
  });

  it("an operator reject of a same-id reinstall whose import retries sends its rejection with the reinstall's set, not the earlier life's (patches-decided-at-start-12)", async () => {
    const reinstallId = 'installed-again';
    let failed = false;
    const stubs = new ActivityStubs().on('importCredentials', async (i) => {
      if (i.eventId === reinstallId && !failed) {
        failed = true;
        throw new Error('partner store unavailable');
      }
      return { clientId: clientIdFor(String(i.eventId)), keyId: 'key-1', keyAlgorithm: 'ES256' };
    });
    t = await InstallationUnderTest.start(env(), stubs, { retryInitialMs: 3_600_000 });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    // Installed again under the same id (the earlier life's uninstall not delivered yet): its import in its backoff.
    const reinstall = t.event('app.installed', { id: reinstallId, atSeconds: 100, facts: { client_id: clientIdFor(reinstallId) } });
    await t.send(reinstall);
    await t.until('the import to be in its backoff', (v) => v.phase === 'installing' && v.lastError !== undefined);
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'wrong account' }] });
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'reject']);
    assert.equal(
      t.stubs.of('setInstallationState').at(-1)?.clientId,
      clientIdFor(reinstall.eventId),
      "the reinstall's set: Talkdesk revoked the earlier one",
    );
  });

  it('a reconcile signal in the gap (Talkdesk timed the update out) stops the update at once', async () => {
    const gap = await updateInItsGap();
    t = gap.started;
    await t.handle.signal(reconcileSignal, { action: 'endUpdate', talkdeskState: 'timeout' });
    gap.release();
    // An hour passes (the record's backoff, and many of the approval's had the update run).
    await env().sleep(3_600_000);
    const v = await t.settled('active', (s) => s.history.length === 2 && s.history[1]!.endedAt !== undefined);
    assert.equal(v.history[1]!.result, 'interrupted', `the update ended ${v.history[1]!.result}: ${v.history[1]!.outcome}`);
    assert.equal(v.history[1]!.detail, 'Talkdesk reporting timeout');
    assert.ok(!t.stubs.names().includes('applyUpdate'));
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install']);
  });
  it('an operator reject in the gap stops an install; the rejection is sent with its credentials', async () => {
    const stubs = failingApproval('install');
    const gap = failFirstRecordOf(stubs, 'installing');
    // An hour's backoff after the failed record: the reject certainly lands in the gap.
    t = await InstallationUnderTest.start(env(), stubs, { retryInitialMs: 3_600_000 });
    const install = t.event('app.installed');
    await t.send(install);
    await gap.reached;
    gap.release();
    await t.until('the phase record to be in its backoff', (v) => v.phase === 'installing' && v.lastError !== undefined);
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'customer asked' }] });
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    assert.equal(done.history[0]!.result, 'interrupted', `the install ended ${done.history[0]!.result}: ${done.history[0]!.outcome}`);
    assert.equal(done.history[0]!.detail, 'operator reject');
    assert.ok(!t.stubs.names().includes('provisionAccount'), 'provisioning never began');
    assert.deepEqual(t.stubs.stateCalls(), ['reject']);
    const reject = t.stubs.of('setInstallationState')[0]!;
    assert.equal(reject.reason, 'Rejected by operator: customer asked');
    assert.equal(reject.clientId, clientIdFor(install.eventId));
  });
});
