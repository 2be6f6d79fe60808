import assert from 'node:assert/strict';
import type { InstallationState } from '../../workflows/state';
import { NEW_LIFE_ROTATION_WAITS_BEFORE_UNINSTALL } from '../../workflows/installation/earlier-life';
import { PATCHES_DECIDED_AT_START_1_TO_18 } from '../../workflows/installation/patches';
import { clientIdFor, useInstallationUnderTest, type InstallationUnderTest } from './harness';

/**
 * Patch new-life-rotation-waits-before-uninstall in a run continued as new with the rotation and the uninstall already
 * queued: no event handler enqueues them, so the run asks it at its start (workflow.ts), before any activity.
 */
describe('installation workflow: a new life rotation carried over with its uninstall queued', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  /** An uninstalled installation's run (installed at second 1, uninstalled at 3) carrying a new life's events. */
  const carried = (t: InstallationUnderTest, queue: InstallationState['queue']): InstallationState => {
    const install = t.event('app.installed', { atSeconds: 1 });
    const uninstall = t.event('app.uninstalled', { atSeconds: 3 });
    return {
      installationId: t.installationId,
      appId: 'app-1',
      accountId: 'acct-1',
      phase: 'uninstalled',
      links: install.links,
      history: [],
      attempts: 0,
      queue,
      seenEventIds: [install.eventId, uninstall.eventId, ...queue.map((e) => e.eventId)],
      handledEventIds: [install.eventId, uninstall.eventId],
      lastAppliedAt: uninstall.createdAt,
      appliedAt: { install: install.createdAt, uninstall: uninstall.createdAt },
      appliedEvents: 2,
      ignoredEvents: [],
      retiring: [],
      operatorActions: [],
    };
  };

  it('asks the patch at the first uninstall or rotation signalled, whatever the queue holds (nothing else queued here)', async () => {
    const t = await start();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    assert.deepEqual(await t.patches(), [PATCHES_DECIDED_AT_START_1_TO_18], 'an install alone asks nothing');
    await t.send(t.event('app.uninstalled'));
    assert.equal((await t.result()).phase, 'uninstalled');
    assert.deepEqual(await t.patches(), [PATCHES_DECIDED_AT_START_1_TO_18, NEW_LIFE_ROTATION_WAITS_BEFORE_UNINSTALL]);
  });

  it("asks the patch in the run's first task; the rotation waits for its life's late install, whose uninstall gets its set", async () => {
    let rotationId = '';
    let uninstallId = '';
    const t = await start(
      undefined,
      {},
      {
        carried: (u) => {
          const rotation = u.event('app.credentials_rotated', { atSeconds: 9, facts: { compromised: true } });
          const uninstall = u.event('app.uninstalled', { atSeconds: 10 });
          [rotationId, uninstallId] = [rotation.eventId, uninstall.eventId];
          return carried(u, [rotation, uninstall, u.event('app.installed', { id: 'later-life', atSeconds: 12 })]);
        },
        // Signalled in the first task, a repeat of the queued install: no rotation or uninstall signalled, so the start asks.
        first: (u) => u.event('app.installed', { id: 'later-life', atSeconds: 12 }),
      },
    );
    const waiting = await t.until('the rotation to wait for its install', (v) => /waiting for the app.installed/.test(v.currentStep ?? ''));
    assert.equal(waiting.pendingEvents[0], `app.credentials_rotated ${rotationId}`);
    assert.deepEqual(await t.patches(), [PATCHES_DECIDED_AT_START_1_TO_18, NEW_LIFE_ROTATION_WAITS_BEFORE_UNINSTALL]);
    await t.send(t.event('app.installed', { atSeconds: 8 }));
    const done = await t.settled('active', (v) => v.history.length === 2);
    assert.deepEqual(
      done.history.map((h) => [h.eventId, h.result]),
      [
        [uninstallId, 'acknowledged'],
        ['later-life', 'approved'],
      ],
    );
    assert.equal(t.stubs.of('setInstallationState')[0]?.clientId, clientIdFor(rotationId), "the uninstall with the rotation's set");
  });
});
