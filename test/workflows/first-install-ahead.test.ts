import assert from 'node:assert/strict';
import { FIRST_INSTALL_TAKEN_AHEAD } from '../../workflows/installation/first-install';
import { PATCHES_DECIDED_AT_START_1_TO_18 } from '../../workflows/installation/patches';
import { clientIdFor, phases, useInstallationUnderTest } from './harness';

/**
 * Before the first install, an install queued behind older events is taken at once (patch first-install-taken-ahead,
 * seventeenth generation): the wait for an install no longer watches the head of the queue only.
 */
describe('installation workflow: the first install queued behind an older event', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();
  const waiting = /waiting for the app\.installed/;

  it('a trial start dated before its install: the install is taken at once, the trial then recorded on the new account', async () => {
    const t = await start();
    const trial = t.event('app.trial_started', { atSeconds: 1, facts: { expires_at: '2099-01-01T00:00:00Z' } });
    await t.send(trial);
    await t.until('the trial to wait for its install', (v) => waiting.test(v.currentStep ?? ''));
    const install = t.event('app.installed', { atSeconds: 2 });
    await t.send(install);
    // Polled without moving the time-skipping server's clock: a wait of the grace (15 minutes) would hold it here.
    const v = await t.settled('active', (s) => s.appliedEvents === 2);
    assert.deepEqual(phases(v).slice(0, 1), ['installing']);
    assert.equal(v.history[0]?.eventId, install.eventId, 'the install first');
    const names = t.stubs.names();
    assert.ok(names.indexOf('provisionAccount') < names.indexOf('recordTrial'), `the account before its trial: ${names.join(', ')}`);
    assert.equal(v.trial?.startedAt, trial.createdAt);
    assert.ok(!v.ignoredEvents.some((e) => e.eventId === trial.eventId));
    const markers = await t.patches();
    assert.ok(markers.includes(PATCHES_DECIDED_AT_START_1_TO_18) && !markers.includes(FIRST_INSTALL_TAKEN_AHEAD), 'decided at start');
  });

  it('an uninstall ahead of the install (a life in between may end there): the wait goes on, nothing taken out of order', async () => {
    const t = await start();
    await t.send(t.event('app.uninstalled', { atSeconds: 1 }));
    await t.until('the uninstall to wait for its install', (v) => waiting.test(v.currentStep ?? ''));
    const install = t.event('app.installed', { atSeconds: 2 });
    await t.send(install);
    // The signal handled (its event queued) in the same activation that re-checks the wait: still waiting.
    const v = await t.until('the install queued', (s) => s.pendingEvents.some((p) => p.endsWith(install.eventId)));
    assert.match(v.currentStep ?? '', waiting);
    assert.deepEqual(v.history, []);
  });

  it('a rotation dated before its first install: the install is taken at once, the rotation over (copy discarded, not acknowledged)', async () => {
    const t = await start();
    const rotation = t.event('app.credentials_rotated', { atSeconds: 1 });
    await t.send(rotation);
    await t.until('the rotation to wait for its install', (v) => waiting.test(v.currentStep ?? ''));
    const install = t.event('app.installed', { atSeconds: 2 });
    await t.send(install);
    const v = await t.until(
      'the rotation decided',
      (s) => s.phase === 'active' && s.ignoredEvents.some((e) => e.eventId === rotation.eventId),
    );
    assert.equal(v.history[0]?.eventId, install.eventId, 'the install first');
    assert.match(v.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '', /earlier life/);
    assert.equal(v.activeClientId, clientIdFor(install.eventId), "the install's own set, not the older rotation's");
    assert.deepEqual(t.stubs.of('acknowledgeCredentials'), [], 'a set Talkdesk replaced since is never acknowledged');
    assert.deepEqual(
      t.stubs.of('importCredentials').filter((i) => i.eventId === rotation.eventId),
      [],
      'never imported',
    );
    assert.ok(
      t.stubs.distinct('discardEventCredentials').some((d) => d.eventId === rotation.eventId),
      'its copy discarded',
    );
  });

  it('an update dated before its first install: the install is taken at once, the update over (neither applied nor approved)', async () => {
    const t = await start();
    const update = t.event('app.updated', { atSeconds: 1, facts: { users: { adding: ['u9'] } } });
    await t.send(update);
    await t.until('the update to wait for its install', (v) => waiting.test(v.currentStep ?? ''));
    const install = t.event('app.installed', { atSeconds: 2 });
    await t.send(install);
    const v = await t.until('the update decided', (s) => s.phase === 'active' && s.ignoredEvents.some((e) => e.eventId === update.eventId));
    assert.equal(v.history[0]?.eventId, install.eventId, 'the install first');
    assert.match(v.ignoredEvents.find((e) => e.eventId === update.eventId)?.reason ?? '', /earlier life/);
    assert.deepEqual(t.stubs.of('applyUpdate'), [], 'its user delta not applied to the new account');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install'], 'and no approval sent for it');
  });
});
