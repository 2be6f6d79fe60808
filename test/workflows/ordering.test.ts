import assert from 'node:assert/strict';
import { ActivityStubs, clientIdFor, deferred, phases, useInstallationUnderTest } from './harness';
import type { LifecycleEvent } from '../../workflows/definitions';
import { uninstallBeforeItsInstall } from './scenarios';
import { NEW_LIFE_ROTATION_WAITS_BEFORE_UNINSTALL } from '../../workflows/installation/earlier-life';
import { PATCHES_DECIDED_AT_START_1_TO_18 } from '../../workflows/installation/patches';

/** Which events the workflow applies, in what order, and which it ignores (stubbed activities). */
describe('installation workflow: event order', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  it('installs, then uninstalls, calling the activities in order', async () => {
    const t = await start();
    const install = t.event('app.installed');
    await t.send(install);
    const active = await t.settled('active');
    assert.equal(active.activeClientId, clientIdFor(install.eventId));
    assert.equal(active.accountId, 'acct-1');
    assert.deepEqual(t.stubs.names(), [
      'loadInstallation',
      'recordInstallation',
      'importCredentials',
      'provisionAccount',
      'setInstallationState',
      'recordInstallation',
    ]);
    assert.deepEqual(t.stubs.of('importCredentials')[0], { installationId: t.installationId, eventId: install.eventId, activate: true });
    assert.deepEqual(
      t.stubs.of('recordInstallation').map((r) => r.phase),
      ['installing', 'active'],
    );

    const uninstall = t.event('app.uninstalled');
    await t.send(uninstall);
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.equal(done.appliedEvents, 2);
    assert.deepEqual(phases(done), ['installing', 'uninstalling']);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:uninstall']);
    assert.deepEqual(t.stubs.names().slice(6), [
      'recordInstallation',
      'deprovisionAccount',
      'setInstallationState',
      'destroyCredentials',
      'recordInstallation',
    ]);
    // Every set destroyed; a reinstall's copy (an install newer than the uninstall) spared.
    const destroyed = [{ installationId: t.installationId, keepNewerThan: uninstall.createdAt }];
    assert.deepEqual(t.stubs.of('destroyCredentials'), destroyed, 'every set destroyed');
    assert.equal(done.activeClientId, undefined);
  });

  it('holds a first event that is not app.installed until the install arrives, then applies both in created_at order', async () => {
    const t = await start();
    const install = t.event('app.installed', { atSeconds: 1 });
    const update = t.event('app.updated', { atSeconds: 2, facts: { users: { adding: ['u-new'], removing: [] } } });
    await t.send(update);
    // The workflow is waiting out the ordering grace (the only time it names an event it waits for).
    const waiting = await t.until('the update to wait for its install', (v) => /app\.installed/.test(v.currentStep ?? ''));
    assert.equal(waiting.phase, 'new');
    assert.deepEqual(t.stubs.names(), ['loadInstallation'], 'nothing applied while waiting');
    await t.send(install);
    const v = await t.settled('active', (s) => s.appliedEvents === 2);
    assert.deepEqual(phases(v), ['installing', 'updating']);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:update']);
    assert.deepEqual(t.stubs.of('applyUpdate')[0]?.usersAdding, ['u-new']);
    assert.deepEqual(v.ignoredEvents, []);
  });

  it('ignores a first update once the ordering grace ends without an install', async () => {
    const t = await start();
    const update = t.event('app.updated');
    await t.send(update);
    await t.until('the update to wait for its install', (v) => /app\.installed/.test(v.currentStep ?? ''));
    await env().sleep('14 minutes'); // the grace is 15 minutes
    assert.deepEqual((await t.state()).ignoredEvents, [], 'still waiting inside the grace');
    await env().sleep('2 minutes');
    const v = await t.until('the update to be ignored', (s) => s.ignoredEvents.length > 0);
    assert.equal(v.phase, 'new');
    assert.deepEqual(
      v.ignoredEvents.map((e) => e.eventId),
      [update.eventId],
    );
    assert.match(v.ignoredEvents[0]?.reason ?? '', /installation is new/);
    assert.deepEqual(t.stubs.names(), ['loadInstallation']);

    // An uninstall with no credentials ever received is deprovisioned locally, without calling Talkdesk.
    await t.send(t.event('app.uninstalled'));
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(t.stubs.stateCalls(), []);
    assert.equal(t.stubs.of('deprovisionAccount').length, 1);
  });

  it('applies events queued during an install in created_at order, not arrival order', async () => {
    const approving = deferred();
    const release = deferred();
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes === 'install') {
        approving.resolve();
        await release.promise;
      }
      return { state: 'completed' };
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed', { atSeconds: 1 }));
    await approving.promise;
    const trial = t.event('app.trial_started', { atSeconds: 3, facts: { expires_at: '2027-01-01T00:00:00Z' } });
    const update = t.event('app.updated', { atSeconds: 2, facts: { users: { adding: [], removing: ['u-old'] } } });
    await t.send(trial, update);
    await t.until('both events queued', (v) => v.pendingEvents.length === 2);
    release.resolve();
    const v = await t.settled('active', (s) => s.appliedEvents === 3);
    assert.deepEqual(
      t.stubs.names().filter((n) => n === 'applyUpdate' || n === 'recordTrial'),
      ['applyUpdate', 'recordTrial'],
    );
    assert.equal(v.trial?.expiresAt, '2027-01-01T00:00:00Z');
  });

  it('an update older than one already applied is not replayed as a delta: the users are re-read from Talkdesk', async () => {
    const t = await start();
    await t.send(t.event('app.installed', { atSeconds: 1 }));
    await t.settled('active');
    await t.send(t.event('app.updated', { atSeconds: 10 }));
    await t.settled('active', (v) => v.appliedEvents === 2);
    const stale = t.event('app.updated', { atSeconds: 5, facts: { users: { adding: ['u-stale'], removing: [] } } });
    await t.send(stale);
    const v = await t.settled('active', (s) => s.appliedEvents === 3);
    assert.deepEqual(v.ignoredEvents, []);
    assert.deepEqual(t.stubs.of('applyUpdate')[1]?.usersAdding, []);
    assert.equal(t.stubs.of('applyUpdate')[1]?.resyncUsers, true);
    assert.deepEqual(phases(v), ['installing', 'updating', 'updating']);
  });

  it('applies a repeated event id once, whether it repeats while queued or after it was applied', async () => {
    const release = deferred();
    const stubs = new ActivityStubs().on('provisionAccount', async (i) => {
      await release.promise;
      return { accountId: 'acct-1', accountName: String(i.accountName), licensedUsers: 1, settingsRestored: false };
    });
    const t = await start(stubs);
    const install = t.event('app.installed');
    const update = t.event('app.updated');
    await t.send(install, update, update);
    release.resolve();
    await t.settled('active', (v) => v.appliedEvents === 2);
    await t.send(install);
    const v = await t.until('the repeated install to be ignored', (s) => s.ignoredEvents.length === 2);
    assert.deepEqual(
      v.ignoredEvents.map((e) => [e.eventId, e.reason]),
      [
        [update.eventId, 'duplicate delivery'],
        [install.eventId, 'duplicate delivery'],
      ],
    );
    assert.equal(t.stubs.of('importCredentials').length, 1);
    assert.equal(t.stubs.of('applyUpdate').length, 1);
    assert.equal(v.appliedEvents, 2);
  });

  it('an install and an uninstall of the same second: the install is not provisioned, the uninstall is acknowledged with its credentials', async () => {
    const t = await start();
    const { install, done } = await uninstallBeforeItsInstall(t);
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(
      done.ignoredEvents.map((e) => e.eventId),
      [install.eventId],
    );
    assert.match(done.ignoredEvents[0]?.reason ?? '', /queued uninstall/);
    assert.equal(t.stubs.of('provisionAccount').length, 0);
    assert.equal(t.stubs.of('importCredentials').length, 1);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:uninstall']);
    assert.equal(t.stubs.of('setInstallationState')[0]?.clientId, clientIdFor(install.eventId));
  });
  /**
   * A run for a finished installation (installed at second 1, uninstalled at 3), held in its first step until `send`
   * signals a new life's events; `installLate` then waits for the run to wait for its install, and sends it.
   */
  const finishedRun = async () => {
    const loaded = deferred();
    const times: Record<string, string> = {};
    const stubs = new ActivityStubs().on('loadInstallation', async () => {
      await loaded.promise;
      return { appId: 'app-1', accountId: 'acct-1', links: {}, phase: 'uninstalled', ...times };
    });
    const t = await start(stubs);
    const at = (s: number) => t.event('app.installed', { atSeconds: s }).createdAt;
    Object.assign(times, { installEventAt: at(1), uninstallEventAt: at(3), lastEventAt: at(3) });
    const send = async (...events: LifecycleEvent[]) => {
      await t.send(...events);
      loaded.resolve();
    };
    const installLate = async (atSeconds: number) => {
      await t.until('the new life to wait for its install', (v) => /waiting for the app.installed/.test(v.currentStep ?? ''));
      const reinstall = t.event('app.installed', { atSeconds });
      await t.send(reinstall);
      return { reinstall, done: await t.result() };
    };
    return { t, send, installLate };
  };

  it("a same-id reinstall's uninstall delivered before its late install waits for it, and is acknowledged with that install's set (patches-decided-at-start-13)", async () => {
    // The reinstall (second 8) is delivered after its uninstall (its first delivery failed).
    const { t, send, installLate } = await finishedRun();
    const uninstall = t.event('app.uninstalled', { atSeconds: 9 });
    await send(uninstall);
    const { reinstall, done } = await installLate(8);
    // The reinstall, its uninstall queued, is not installed: its set answers the uninstall (before: deprovisioned
    // without credentials, Talkdesk never told; the reinstall then ignored as over).
    assert.deepEqual(
      done.history.map((h) => [h.eventId, h.result]),
      [[uninstall.eventId, 'acknowledged']],
    );
    assert.match(done.ignoredEvents.find((e) => e.eventId === reinstall.eventId)?.reason ?? '', /superseded by a queued uninstall/);
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, clientIdFor(reinstall.eventId), "with the reinstall's set");
  });
  it("a same-id reinstall's late install, skipped for its uninstall in a finished installation's run: its life's rotation still answers that uninstall (patches-decided-at-start-13)", async () => {
    // The new life's rotation (no compromised flag: Talkdesk documents none; it revoked the install's set) and its
    // uninstall, then its install, late.
    const { t, send, installLate } = await finishedRun();
    const rotation = t.event('app.credentials_rotated', { atSeconds: 9 });
    const uninstall = t.event('app.uninstalled', { atSeconds: 10 });
    await send(rotation, uninstall);
    const { done } = await installLate(8);
    assert.deepEqual(
      done.history.map((h) => [h.eventId, h.result]),
      [[uninstall.eventId, 'acknowledged']],
    );
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, clientIdFor(rotation.eventId), "with the rotation's set");
    assert.match(done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '', /no compromised flag/);
  });

  it("a same-id reinstall's uninstall waits for its late install even with a later life's install queued behind it (patches-decided-at-start-14)", async () => {
    // Reinstalled (second 8, its first delivery failed), uninstalled (9), reinstalled again (12): 9 and 12 come first.
    const { t, send } = await finishedRun();
    const uninstall = t.event('app.uninstalled', { atSeconds: 9 });
    const later = t.event('app.installed', { atSeconds: 12 });
    await send(uninstall, later);
    await t.until('the uninstall to wait for its install', (v) => /waiting for the app.installed/.test(v.currentStep ?? ''));
    const reinstall = t.event('app.installed', { atSeconds: 8 });
    await t.send(reinstall);
    const done = await t.settled('active', (v) => v.history.length === 2);
    // Before: the queued install (12) ended the wait, the uninstall was deprovisioned without credentials (Talkdesk never
    // told), and the reinstall (8) then ignored as over.
    assert.deepEqual(
      done.history.map((h) => [h.eventId, h.result]),
      [
        [uninstall.eventId, 'acknowledged'],
        [later.eventId, 'approved'],
      ],
    );
    assert.equal(t.stubs.of('setInstallationState')[0]?.clientId, clientIdFor(reinstall.eventId), "the uninstall with its install's set");
  });

  it("a same-id reinstall's compromised rotation waits for its late install when its uninstall is queued before a later life's install (new-life-rotation-waits-before-uninstall)", async () => {
    // Reinstalled (second 8, its first delivery failed), its set rotated (9, compromised: the install's set revoked),
    // uninstalled (10), reinstalled again (12): 9, 10 and 12 come first.
    const { t, send } = await finishedRun();
    const rotation = t.event('app.credentials_rotated', { atSeconds: 9, facts: { compromised: true } });
    const uninstall = t.event('app.uninstalled', { atSeconds: 10 });
    const later = t.event('app.installed', { atSeconds: 12 });
    await send(rotation, uninstall, later);
    const waiting = await t.until('the rotation to wait for its install', (v) => /waiting for the app.installed/.test(v.currentStep ?? ''));
    assert.equal(waiting.pendingEvents[0], `app.credentials_rotated ${rotation.eventId}`, 'the rotation is the head that waits');
    await t.send(t.event('app.installed', { atSeconds: 8 }));
    const done = await t.settled('active', (v) => v.history.length === 2);
    assert.deepEqual(
      done.history.map((h) => [h.eventId, h.result]),
      [
        [uninstall.eventId, 'acknowledged'],
        [later.eventId, 'approved'],
      ],
    );
    // Before: the rotation was taken at once (no set yet to adopt it for), and the uninstall answered with the late
    // install's set, which the rotation had revoked.
    assert.equal(t.stubs.of('setInstallationState')[0]?.clientId, clientIdFor(rotation.eventId), "the uninstall with the rotation's set");
    // Asked in the event handler at the run's first rotation or uninstall signal: a run without either (an install)
    // records no marker of it (store-steps.test.ts).
    assert.deepEqual(await t.patches(), [PATCHES_DECIDED_AT_START_1_TO_18, NEW_LIFE_ROTATION_WAITS_BEFORE_UNINSTALL]);
  });

  it("a new life's wait for its install has its own grace: not used up by the first install's wait earlier in the run (patches-decided-at-start-13)", async () => {
    const inDeprovision = deferred();
    const release = deferred();
    const stubs = new ActivityStubs().on('deprovisionAccount', async () => {
      inDeprovision.resolve();
      await release.promise;
    });
    const t = await start(stubs);
    // The first life: its trial before its install (the run's first-install wait), then active for days.
    await t.send(t.event('app.trial_started', { atSeconds: 2, facts: { expires_at: '2099-01-01T00:00:00Z' } }));
    await t.until('the trial to wait for its install', (v) => /waiting for the app.installed/.test(v.currentStep ?? ''));
    await t.send(t.event('app.installed', { atSeconds: 1 }));
    await t.settled('active', (v) => v.appliedEvents === 2);
    await env().sleep('2 days');
    // Its uninstall; while it deprovisions, a same-id reinstall's uninstall, its install late.
    await t.send(t.event('app.uninstalled', { atSeconds: 2 * 86_400 }));
    await inDeprovision.promise;
    const uninstall = t.event('app.uninstalled', { atSeconds: 2 * 86_400 + 20 });
    await t.send(uninstall);
    await t.until('the uninstall to be queued', (v) => v.pendingEvents.some((p) => p.endsWith(uninstall.eventId)));
    release.resolve();
    await t.until('the new life to wait for its install', (v) => /waiting for the app.installed/.test(v.currentStep ?? ''));
    const reinstall = t.event('app.installed', { atSeconds: 2 * 86_400 + 10 });
    await t.send(reinstall);
    const done = await t.result();
    assert.deepEqual(done.history.at(-1)?.eventId, uninstall.eventId);
    assert.equal(done.history.at(-1)?.result, 'acknowledged', done.history.at(-1)?.outcome);
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, clientIdFor(reinstall.eventId), "with the reinstall's set");
  });
});
