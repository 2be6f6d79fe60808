import assert from 'node:assert/strict';
import { phases, resumedFromRecord, useInstallationUnderTest } from './harness';

/**
 * A workflow lost mid-install (its record left `installing`), then a later event of the installation starts a new run
 * (signal-with-start): the install's event comes back only from a reconciliation pass, which may come later than the
 * ordering grace (patch resumed-install-waits-for-its-event, the sixteenth generation).
 */
describe('installation workflow: a run resumed from a record left installing, started by an update', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  for (const [named, activeClientId] of [
    ['its set not recorded', undefined],
    ['its set recorded', 'client-lost-run'],
  ] as const) {
    it(`${named}: the update waits for the install past the grace, then both are applied`, async () => {
      const t = await start(resumedFromRecord({ phase: 'installing', activeClientId }));
      const update = t.event('app.updated', { atSeconds: 20 });
      await t.send(update);
      // Well past the ordering grace (15 minutes), as long as two reconciliation passes.
      await env().sleep('40 minutes');
      const waiting = await t.state();
      assert.ok(!waiting.ignoredEvents.some((e) => e.eventId === update.eventId), JSON.stringify(waiting.ignoredEvents));
      assert.equal(t.stubs.of('applyUpdate').length, 0);
      // Reconciliation hands the install over again.
      await t.send(t.event('app.installed', { atSeconds: 10 }));
      const v = await t.settled('active', (s) => s.appliedEvents === 2);
      assert.deepEqual(phases(v), ['installing', 'updating']);
      assert.equal(t.stubs.of('applyUpdate').length, 1, 'the update applied');
      await t.send(t.event('app.uninstalled', { atSeconds: 30 }));
      assert.equal((await t.result()).phase, 'uninstalled');
    });
  }
});
