import assert from 'node:assert/strict';
import type { InstallationState } from '../../workflows/state';
import { approvedEntry, midPhaseBase } from './carried-state';
import { ActivityStubs, clientIdFor, useInstallationUnderTest, type InstallationUnderTest } from './harness';

/**
 * An uninstall cut by continue-as-new after its acknowledgement was sent (an adopted rotation's import backing off):
 * the next run's first call may follow one that concluded the uninstall, so it is judged as sent again (`resent`:
 * Talkdesk refusing the credentials then means the acknowledgement revoked them), as a lost run's is.
 */
describe('installation workflow: an uninstall acknowledgement carried across continue-as-new', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  const cutDuringUninstall = (t: InstallationUnderTest, ackBegun: boolean): InstallationState => {
    const install = t.event('app.installed', { id: 'install-1', atSeconds: -3_600 });
    const uninstall = t.event('app.uninstalled', { id: 'uninstall-1', atSeconds: -60 });
    const step = 'deprovision the partner account';
    return {
      ...midPhaseBase(t, install, 'uninstalling'),
      activeClientId: clientIdFor(install.eventId),
      history: [
        approvedEntry(install, 'installing'),
        { phase: 'uninstalling', eventId: uninstall.eventId, startedAt: uninstall.createdAt },
      ],
      attempts: 2,
      currentStep: step,
      seenEventIds: [install.eventId, uninstall.eventId],
      handledEventIds: [install.eventId],
      lastAppliedAt: uninstall.createdAt,
      appliedAt: { install: install.createdAt, uninstall: uninstall.createdAt },
      appliedEvents: 1,
      resume: {
        event: uninstall,
        late: false,
        step,
        attempt: 2,
        retryAt: new Date(t.t0 + 1_000).toISOString(),
        ...(ackBegun ? { ackBegun } : {}),
      },
    };
  };

  for (const ackBegun of [true, false]) {
    it(`${ackBegun ? 'begun before the cut: the first call of the next run is sent as resent' : 'not begun (control): its first call is not'}`, async () => {
      const t = await start(
        new ActivityStubs(),
        {},
        { carried: (u) => cutDuringUninstall(u, ackBegun), first: (u) => u.event('app.installed', { id: 'install-1', atSeconds: -3_600 }) },
      );
      const done = await t.result();
      assert.equal(done.phase, 'uninstalled');
      const [first] = t.stubs.of('setInstallationState');
      assert.equal(first?.concludes, 'uninstall');
      assert.equal(first?.resent, ackBegun);
    });
  }
});
