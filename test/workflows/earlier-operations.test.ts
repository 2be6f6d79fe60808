import assert from 'node:assert/strict';
import { rejectUpdate } from '../../workflows/definitions';
import { ActivityStubs, clientIdFor, deferred, unavailable, useInstallationUnderTest } from './harness';

/**
 * Late events that belong to an operation already over (patches-decided-at-start-9): a rotation older than an
 * applied one with an uninstall waiting behind it, and an update or rotation of an installation's earlier life
 * delivered after a same-id reinstall; its install too (patches-decided-at-start-10).
 */
describe('installation workflow: late events of operations already over', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  it('a late rotation with an uninstall queued is not acknowledged: the uninstall goes on at once', async () => {
    // Talkdesk never takes a credentials acknowledgement: the newer rotation's retries for days.
    const t = await start(new ActivityStubs().on('acknowledgeCredentials', async () => Promise.reject(unavailable())));
    await t.send(t.event('app.installed', { atSeconds: 1 }));
    await t.settled('active');
    const newer = t.event('app.credentials_rotated', { atSeconds: 20 });
    await t.send(newer);
    await t.until('the newer rotation retrying its acknowledgement', (v) => /acknowledge/.test(v.lastError ?? '') && v.attempts > 1);
    // The older rotation (a redelivery), then the uninstall: it interrupts the newer one; the older one is next in line.
    const late = t.event('app.credentials_rotated', { atSeconds: 10 });
    const uninstall = t.event('app.uninstalled', { atSeconds: 30 });
    await t.send(late, uninstall);
    await env().sleep('1 hour');
    const v = await t.state();
    assert.equal(v.phase, 'uninstalled', `the uninstall waited behind the late rotation (phase ${v.phase}, ${v.lastError ?? ''})`);
    const done = await t.result();
    const entry = done.history.find((h) => h.eventId === late.eventId);
    assert.equal(entry?.result, 'superseded');
    assert.match(entry?.detail ?? '', /not acknowledged \(an uninstall is queued\)/);
    assert.ok(
      !t.stubs.of('acknowledgeCredentials').some((a) => a.clientId === clientIdFor(late.eventId)),
      'no acknowledgement of the late set',
    );
    assert.ok(
      t.stubs.distinct('discardEventCredentials').some((d) => d.eventId === late.eventId),
      "the late set's copy discarded",
    );
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
  });

  /** A run for an installation its store shows uninstalled (at 30 s), then reinstalled under the same id (at 40 s). */
  const reinstalled = async () => {
    const t0 = await env().currentTimeMs();
    const sent = deferred();
    const uninstalledAt = new Date(t0 + 30_000).toISOString();
    const t = await start(
      new ActivityStubs().on('loadInstallation', async () => {
        await sent.promise;
        return {
          phase: 'uninstalled',
          appId: 'app-1',
          lastEventAt: uninstalledAt,
          uninstallEventAt: uninstalledAt,
          handledEventIds: ['u-1'],
        };
      }),
    );
    const reinstall = t.event('app.installed', { atSeconds: 40 });
    await t.send(reinstall);
    sent.resolve();
    await t.settled('active');
    return { t, reinstall };
  };

  it('an update of the earlier life delivered after a same-id reinstall is over: neither applied nor approved', async () => {
    const { t, reinstall } = await reinstalled();
    const stale = t.event('app.updated', { atSeconds: 20, facts: { users: { adding: ['u9'] } } });
    await t.send(stale);
    const v = await t.until('the stale update decided', (s) => s.ignoredEvents.some((e) => e.eventId === stale.eventId));
    assert.equal(v.phase, 'active');
    assert.match(v.ignoredEvents.find((e) => e.eventId === stale.eventId)?.reason ?? '', /earlier life/);
    assert.deepEqual(t.stubs.of('applyUpdate'), [], 'before, its user delta was applied to the new account');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install'], 'and its approval sent blind');
    assert.equal(v.activeClientId, clientIdFor(reinstall.eventId));
  });

  it('a rotation of the earlier life delivered after a same-id reinstall is over: its copy discarded, nothing acknowledged', async () => {
    const { t, reinstall } = await reinstalled();
    const stale = t.event('app.credentials_rotated', { atSeconds: 25 });
    await t.send(stale);
    const v = await t.until('the stale rotation decided', (s) => s.ignoredEvents.some((e) => e.eventId === stale.eventId));
    assert.equal(v.activeClientId, clientIdFor(reinstall.eventId), 'the reinstall keeps its own set');
    assert.deepEqual(t.stubs.of('acknowledgeCredentials'), []);
    assert.deepEqual(
      t.stubs.of('importCredentials').filter((i) => i.eventId === stale.eventId),
      [],
      'never imported',
    );
    assert.ok(t.stubs.distinct('discardEventCredentials').some((d) => d.eventId === stale.eventId));
    assert.equal(v.history.find((h) => h.eventId === stale.eventId)?.result, 'superseded');
  });

  it("the earlier life's trial events are over too; the new life's trial, started before its reinstall, is recorded", async () => {
    const { t } = await reinstalled();
    const stale = t.event('app.trial_started', { atSeconds: 20, facts: { expires_at: '2027-01-01T00:00:00Z' } });
    const endedByUninstall = t.event('app.trial_ended', { atSeconds: 33, facts: { ended_reason: 'app_uninstalled' } });
    await t.send(stale, endedByUninstall);
    const v = await t.until('both decided', (s) =>
      [stale, endedByUninstall].every((e) => s.ignoredEvents.some((i) => i.eventId === e.eventId)),
    );
    assert.deepEqual(t.stubs.of('recordTrial'), [], 'not recorded on the reinstalled account');
    assert.equal(v.trial, undefined);
    // Between the uninstall (30 s) and the reinstall (40 s): the new life's own trial, which may come before its install.
    const own = t.event('app.trial_started', { atSeconds: 35, facts: { expires_at: '2027-02-01T00:00:00Z' } });
    await t.send(own);
    const after = await t.settled('active', (s) => s.trial !== undefined);
    assert.equal(after.trial?.expiresAt, '2027-02-01T00:00:00Z');
    assert.equal(t.stubs.of('recordTrial').length, 1);
  });

  /** An install (1 s), then its same-id reinstall (40 s) applied before the earlier life's uninstall (30 s) was delivered. */
  const reinstallAppliedFirst = async () => {
    const t = await start();
    await t.send(t.event('app.installed', { atSeconds: 1 }));
    await t.settled('active');
    await t.send(t.event('app.installed', { atSeconds: 40 }));
    await t.settled('active', (v) => v.appliedEvents === 2);
    return t;
  };

  /** Sends a trial event of the earlier life: over, recorded on neither the installation nor the reinstalled account. */
  const expectTrialOver = async (t: Awaited<ReturnType<typeof start>>, trial: ReturnType<typeof t.event>) => {
    await t.send(trial);
    const v = await t.settled('active', (s) => s.ignoredEvents.some((e) => e.eventId === trial.eventId));
    assert.deepEqual(t.stubs.of('recordTrial'), [], 'not recorded on the reinstalled account');
    assert.equal(v.trial, undefined);
  };

  it("an earlier life's trial end by its uninstall is over even when the run never applied that uninstall (delivered late)", async () => {
    const t = await reinstallAppliedFirst();
    await expectTrialOver(t, t.event('app.trial_ended', { atSeconds: 30, facts: { ended_reason: 'app_uninstalled' } }));
  });

  it("an earlier life's trial event delivered after that life's late uninstall was judged over is over too (patches-decided-at-start-12)", async () => {
    // The earlier life's uninstall (30 s) and its trial end (25 s) delivered late.
    const t = await reinstallAppliedFirst();
    const uninstall = t.event('app.uninstalled', { atSeconds: 30 });
    await t.send(uninstall);
    await t.until('the uninstall judged over', (s) => s.ignoredEvents.some((e) => e.eventId === uninstall.eventId));
    await expectTrialOver(
      t,
      t.event('app.trial_ended', { atSeconds: 25, facts: { ended_reason: 'converted', ended_at: '2026-01-01T00:00:00Z' } }),
    );
  });

  it('an install of the earlier life delivered after a same-id reinstall is over: the live installation keeps its set and account', async () => {
    // The earlier life's install (1 s) and uninstall (30 s) failed delivery; the reinstall (40 s) came first.
    const t = await start();
    const reinstall = t.event('app.installed', { atSeconds: 40 });
    await t.send(reinstall);
    await t.settled('active');
    const stale = t.event('app.installed', { atSeconds: 1 });
    await t.send(stale);
    const v = await t.until('the stale install decided', (s) => s.ignoredEvents.some((e) => e.eventId === stale.eventId));
    assert.equal(v.phase, 'active');
    assert.equal(v.activeClientId, clientIdFor(reinstall.eventId), 'before, its revoked set was made active');
    assert.match(v.ignoredEvents.find((e) => e.eventId === stale.eventId)?.reason ?? '', /earlier life/);
    assert.deepEqual(
      t.stubs.of('importCredentials').filter((i) => i.eventId === stale.eventId),
      [],
      'never imported',
    );
    assert.ok(
      t.stubs.distinct('discardEventCredentials').some((d) => d.eventId === stale.eventId),
      'its copy discarded',
    );
    assert.equal(t.stubs.of('provisionAccount').length, 1, 'provisioned once, by the reinstall');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install']);
    // The earlier life's uninstall, delivered last, is over too: the installation stays.
    const staleUninstall = t.event('app.uninstalled', { atSeconds: 30 });
    await t.send(staleUninstall);
    const after = await t.until('the stale uninstall decided', (s) => s.ignoredEvents.some((e) => e.eventId === staleUninstall.eventId));
    assert.equal(after.phase, 'active');
    assert.deepEqual(t.stubs.of('deprovisionAccount'), []);
  });

  it('an install of the earlier life delivered after a same-id reinstall ended (rejected) is over too: nothing of it runs', async () => {
    // The reinstall (40 s) was rejected and its run completed; the earlier life's install (1 s) arrives after.
    const t0 = await env().currentTimeMs();
    const at = (s: number) => new Date(t0 + s * 1_000).toISOString();
    const sent = deferred();
    const t = await start(
      new ActivityStubs().on('loadInstallation', async () => {
        await sent.promise;
        return { phase: 'rejected', appId: 'app-1', lastEventAt: at(40), installEventAt: at(40), handledEventIds: ['reinstall-1'] };
      }),
    );
    const stale = t.event('app.installed', { atSeconds: 1 });
    await t.send(stale);
    sent.resolve();
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    assert.match(done.ignoredEvents.find((e) => e.eventId === stale.eventId)?.reason ?? '', /earlier life/);
    assert.deepEqual(t.stubs.of('importCredentials'), [], 'before, its revoked set was imported and an install run');
    assert.deepEqual(t.stubs.stateCalls(), []);
  });

  it("an operator's reject during a reinstall rejects the reinstall, not the earlier life's install queued behind it (patches-decided-at-start-10)", async () => {
    // Uninstalled eight days ago; the reinstall comes now and its provisioning keeps failing.
    const DAY = 86_400;
    const sent = deferred();
    let uninstalledAt = '';
    const t = await start(
      new ActivityStubs()
        .on('loadInstallation', async () => {
          await sent.promise;
          return {
            phase: 'uninstalled',
            appId: 'app-1',
            lastEventAt: uninstalledAt,
            uninstallEventAt: uninstalledAt,
            handledEventIds: ['u-1'],
          };
        })
        .on('provisionAccount', async () => Promise.reject(unavailable())),
    );
    uninstalledAt = t.event('app.uninstalled', { atSeconds: -8 * DAY + 30 }).createdAt;
    const reinstall = t.event('app.installed', { atSeconds: 0 });
    await t.send(reinstall);
    sent.resolve();
    await t.until('the reinstall retrying its provisioning', (v) => v.phase === 'installing' && v.attempts > 1);
    // The earlier life's install (eight days old), delivered late: queued behind the reinstall, over.
    const stale = t.event('app.installed', { atSeconds: -8 * DAY + 1 });
    await t.send(stale);
    await t.until('the stale install queued', (v) => v.pendingEvents.some((p) => p.endsWith(stale.eventId)));
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'duplicate account' }] });
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    assert.deepEqual(t.stubs.stateCalls(), ['reject'], "before, the stale install's deadline (past) was taken: nothing sent");
    assert.equal(t.stubs.of('setInstallationState')[0]?.clientId, clientIdFor(reinstall.eventId));
  });

  it("a reject during a reinstall whose run never applied the earlier life's uninstall skips that life's install too (patches-decided-at-start-10)", async () => {
    // A fresh run (no record): the reinstall's provisioning keeps failing; the earlier life's uninstall arrives (over,
    // dropped, never applied), then its install.
    const DAY = 86_400;
    const t = await start(new ActivityStubs().on('provisionAccount', async () => Promise.reject(unavailable())));
    const reinstall = t.event('app.installed', { atSeconds: 0 });
    await t.send(reinstall);
    await t.until('the reinstall retrying its provisioning', (v) => v.phase === 'installing' && v.attempts > 1);
    await t.send(t.event('app.uninstalled', { atSeconds: -8 * DAY + 30 }));
    const stale = t.event('app.installed', { atSeconds: -8 * DAY + 1 });
    await t.send(stale);
    await t.until('the stale install queued', (v) => v.pendingEvents.some((p) => p.endsWith(stale.eventId)));
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'duplicate account' }] });
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    assert.deepEqual(t.stubs.stateCalls(), ['reject'], "before, the stale install's deadline (past) was taken: nothing sent");
    assert.equal(t.stubs.of('setInstallationState')[0]?.clientId, clientIdFor(reinstall.eventId));
  });
});
