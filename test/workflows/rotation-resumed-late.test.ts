import assert from 'node:assert/strict';
import type { InstallationState } from '../../workflows/state';
import { ActivityStubs, DAY, clientIdFor, unavailable, useInstallationUnderTest, type InstallationUnderTest } from './harness';

const PROVE = 'prove the new credentials by getting a token';

/**
 * A rotation carried over by continue-as-new whose next run begins past its deadline (workers down meanwhile), with an
 * uninstall signalled in that run's first task: its interrupt, kept for the re-entry, was lost to the expired deadline,
 * and the late import ran, the uninstall waiting behind its retries (patch expired-rotation-yields-to-queued-uninstall).
 */
describe('installation workflow: a rotation re-entered past its deadline with an uninstall signalled', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  /** The state a run that continued as new during the rotation's proof (backing off) handed over. */
  const carried = (t: InstallationUnderTest, rotationId: string): InstallationState => {
    const install = t.event('app.installed', { atSeconds: -9 * 86_400 });
    const rotation = t.event('app.credentials_rotated', { id: rotationId, atSeconds: -8 * 86_400, facts: { compromised: true } });
    return {
      installationId: t.installationId,
      appId: 'app-1',
      accountId: 'acct-1',
      accountName: 'Acme',
      phase: 'active',
      links: install.links,
      activeClientId: 'client-old',
      history: [
        { phase: 'installing', eventId: install.eventId, startedAt: install.createdAt, endedAt: install.createdAt, result: 'approved' },
      ],
      attempts: 1,
      currentStep: PROVE,
      queue: [],
      seenEventIds: [install.eventId, rotation.eventId],
      handledEventIds: [install.eventId],
      lastAppliedAt: rotation.createdAt,
      appliedAt: { install: install.createdAt },
      appliedEvents: 1,
      ignoredEvents: [],
      retiring: [],
      operatorActions: [],
      resume: { event: rotation, late: false, step: PROVE, attempt: 1, retryAt: new Date(t.t0 + 60_000).toISOString() },
    };
  };

  it('the rotation yields to the uninstall (its compromised set adopted for it): no late import, the uninstall at once', async () => {
    // Talkdesk refuses to answer the token of the new set: a late import would retry it for seven days.
    const stubs = new ActivityStubs().on('obtainToken', async () => {
      throw unavailable();
    });
    const rotationId = 'rotation-late';
    const t = await start(stubs, {}, { carried: (u) => carried(u, rotationId), first: (u) => u.event('app.uninstalled') });
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.equal(t.stubs.of('obtainToken').length, 0, 'the new set was not proven late: the uninstall did not wait');
    assert.match(done.ignoredEvents.find((e) => e.eventId === rotationId)?.reason ?? '', /rotation interrupted by the uninstall/);
    const ack = t.stubs.of('setInstallationState').find((c) => c.concludes === 'uninstall');
    assert.equal(ack?.clientId, clientIdFor(rotationId), 'the uninstall acknowledged with the compromised rotation’s set');
    // The workflow's own clock when the uninstall began: no day of retries before it.
    const began = done.history.find((h) => h.phase === 'uninstalling')?.startedAt;
    assert.ok(began && Date.parse(began) - t.t0 < DAY, `the uninstall began at ${began}, not days after ${new Date(t.t0).toISOString()}`);
  });
});
