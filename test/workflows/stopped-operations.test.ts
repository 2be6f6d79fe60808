import assert from 'node:assert/strict';
import { rejectUpdate } from '../../workflows/definitions';
import {
  ActivityStubs,
  clientIdFor,
  DAY,
  deferred,
  phases,
  refused,
  resumedFromRecord,
  unavailable,
  useInstallationUnderTest,
  type InstallationUnderTest,
  type Stub,
} from './harness';

/**
 * Operations stopped in ways their own phase does not see (patches-decided-at-start-8): a failure that races the
 * uninstall's interrupt, an uninstall arriving while a failed update is reverted or after an operator's reject was
 * accepted, an operator's reject outliving the operation it rejects, an update a lost run left under way.
 */
describe('installation workflow: operations stopped around their phase', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();
  const users = { users: { adding: ['u1'], removing: [] } };
  const uninstallQueued = (v: { pendingEvents: string[] }) => v.pendingEvents.some((e) => e.startsWith('app.uninstalled'));
  const partnerRefused = () => refused('The partner refused the request (HTTP 422)');

  /** A step held until released, the first time only; then `end` (a failure for good, or an answer). */
  const heldOnce = (end: () => unknown = () => ({})) => {
    const started = deferred();
    const release = deferred();
    let calls = 0;
    const stub: Stub = async () => {
      if (calls++ === 0) {
        started.resolve();
        await release.promise;
      }
      return end();
    };
    return { stub, started: started.promise, release: () => release.resolve() };
  };

  /** Once `held` runs, the uninstall arrives and is queued; then the step goes on, and the run ends. */
  async function uninstallWhile(t: InstallationUnderTest, held: ReturnType<typeof heldOnce>, before?: () => void) {
    await held.started;
    await t.send(t.event('app.uninstalled'));
    await t.until('the uninstall queued', uninstallQueued);
    before?.();
    held.release();
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    return done;
  }

  async function active(stubs: ActivityStubs) {
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    return t;
  }

  /** A run reconciliation started for a record a lost run left `updating`. */
  const resumedUpdating = (record: { updateEventAt: string; phaseEventId?: string }) => resumedFromRecord({ phase: 'updating', ...record });

  const updateEnded = (s: { history: { phase: string; endedAt?: string }[] }) =>
    s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined;

  it('an install that fails for good as the uninstall arrives yields to it: undone, not rejected, the uninstall acknowledged', async () => {
    // Not heartbeating, so the uninstall's cancellation reaches it too late.
    const provisioning = heldOnce(() => Promise.reject(partnerRefused()));
    const t = await start(new ActivityStubs().on('provisionAccount', provisioning.stub));
    await t.send(t.event('app.installed'));
    const done = await uninstallWhile(t, provisioning);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:uninstall'], 'no rejection: Talkdesk has the uninstall open');
    assert.deepEqual(phases(done), ['installing', 'uninstalling']);
    assert.deepEqual([done.history[0]?.result, done.history[0]?.detail], ['interrupted', 'uninstall']);
    assert.match(done.history[0]?.outcome ?? '', /HTTP 422.*not rejected at Talkdesk: an uninstall arrived/, 'why it failed stays');
    assert.equal(t.stubs.of('undoProvisioning').length, 1);
  });

  it('an update that fails for good as the uninstall arrives yields to it: reverted, not rejected', async () => {
    const applying = heldOnce(() => Promise.reject(partnerRefused()));
    const t = await active(new ActivityStubs().on('applyUpdate', applying.stub));
    await t.send(t.event('app.updated', { facts: users }));
    await uninstallWhile(t, applying);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:uninstall']);
    assert.equal(t.stubs.of('revertUpdate').length, 1);
  });

  it('an uninstall that arrives while a failed update is reverted: the rejection is not sent', async () => {
    const reverting = heldOnce();
    const t = await active(
      new ActivityStubs().on('applyUpdate', async () => Promise.reject(partnerRefused())).on('revertUpdate', reverting.stub),
    );
    await t.send(t.event('app.updated', { facts: users }));
    const done = await uninstallWhile(t, reverting);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:uninstall'], 'the rejection would have concluded the uninstall');
    const update = done.history.find((h) => h.phase === 'updating');
    assert.deepEqual([update?.result, update?.detail], ['interrupted', 'uninstall']);
    assert.match(update?.outcome ?? '', /HTTP 422.*not rejected at Talkdesk: an uninstall arrived/);
  });

  it("an operator's reject of a stopped update is tried within the update's seven days, not seven days of its own", async () => {
    const t = await active(
      new ActivityStubs()
        .on('applyUpdate', async () => Promise.reject(unavailable()))
        .on('setInstallationState', async (i) => {
          if (i.state === 'reject') throw unavailable();
          return { state: 'completed' };
        }),
    );
    const update = t.event('app.updated', { facts: users });
    await t.send(update);
    await t.until('the update to be retrying its change', (v) => v.phase === 'updating' && v.lastError !== undefined);
    await env().sleep('2 days');
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'wrong plan' }] });
    await env().sleep('8 days');
    const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'rejected');
    const last = v.history.at(-1);
    assert.match(last?.outcome ?? '', /rejection not sent \(expired\)/);
    const age = Date.parse(last?.endedAt ?? '') - Date.parse(update.createdAt);
    assert.ok(age <= 7 * DAY, `ended ${age / DAY} days after the update: Talkdesk had timed it out`);
    assert.ok(
      t.stubs.of('setInstallationState').some((c) => c.state === 'reject'),
      'tried while the update was open',
    );
  });

  it("an uninstall that arrives after an operator's reject was accepted: the rejection is not sent, the uninstall acknowledged", async () => {
    const reverting = heldOnce();
    const t = await active(
      new ActivityStubs().on('applyUpdate', async () => Promise.reject(unavailable())).on('revertUpdate', reverting.stub),
    );
    await t.send(t.event('app.updated', { facts: users }));
    await t.until('the update to be retrying its change', (v) => v.phase === 'updating' && v.lastError !== undefined);
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'wrong plan' }] });
    const done = await uninstallWhile(t, reverting);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:uninstall'], 'the rejection would have concluded the uninstall');
    assert.match(done.history.find((h) => h.result === 'rejected')?.outcome ?? '', /rejection not sent: an uninstall arrived/);
  });

  it('a reject of an install whose credentials were not imported yet, then an uninstall: imported all the same, the uninstall acknowledged', async () => {
    let importing = 'failing';
    const undoing = heldOnce(() => undefined);
    const t = await start(
      new ActivityStubs()
        .on('importCredentials', async (i) => {
          if (importing === 'failing') throw unavailable();
          return { clientId: clientIdFor(String(i.eventId)), keyId: 'key-1', keyAlgorithm: 'ES256' };
        })
        .on('undoProvisioning', undoing.stub),
    );
    await t.send(t.event('app.installed'));
    await t.until('the import retrying', (v) => v.phase === 'installing' && v.lastError !== undefined);
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'not this customer' }] });
    const done = await uninstallWhile(t, undoing, () => (importing = 'working'));
    assert.deepEqual(t.stubs.stateCalls(), ['approve:uninstall'], 'no rejection; the uninstall acknowledged with the imported set');
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
  });

  it('a late update a lost run left under way is known by its id (its time is not the newest update) and reverted', async () => {
    const now = await env().currentTimeMs();
    const createdAt = new Date(now - 9 * DAY).toISOString();
    const eventId = 'update-left-under-way';
    const t = await start(resumedUpdating({ updateEventAt: new Date(now - 8 * DAY).toISOString(), phaseEventId: eventId }));
    const update = { ...t.event('app.updated', { id: eventId, facts: users }), createdAt };
    await t.send(update);
    await t.settled('active', updateEnded);
    assert.deepEqual(t.stubs.of('applyUpdate'), [], 'past its seven days: nothing of it runs');
    assert.deepEqual(
      t.stubs.of('revertUpdate'),
      [{ installationId: t.installationId, accountId: 'acct-1', eventId: update.eventId, occurredAt: createdAt }],
      'the late update the lost run was applying is reverted',
    );
  });

  it('an update a lost run left under way is reverted when it expires before its body runs again', async () => {
    const createdAt = new Date((await env().currentTimeMs()) - 8 * DAY).toISOString();
    const t = await start(resumedUpdating({ updateEventAt: createdAt }));
    const update = { ...t.event('app.updated', { facts: users }), createdAt };
    await t.send(update);
    const v = await t.settled('active', updateEnded);
    assert.equal(v.history.at(-1)?.result, 'expired');
    assert.deepEqual(t.stubs.of('applyUpdate'), [], 'past its seven days: nothing of it runs');
    assert.deepEqual(
      t.stubs.of('revertUpdate'),
      [{ installationId: t.installationId, accountId: 'acct-1', eventId: update.eventId, occurredAt: createdAt }],
      'the change the lost run may have applied is reverted (the plan kept under the event)',
    );
  });
});
