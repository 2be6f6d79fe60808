import assert from 'node:assert/strict';
import { reconcileSignal } from '../../workflows/definitions';
import { REVOKED_STATE_ENDS_ITS_LIFE } from '../../workflows/installation/earlier-life';
import { PATCHES_DECIDED_AT_START_1_TO_18 } from '../../workflows/installation/patches';
import { ActivityStubs, deferred, unavailable, useInstallationUnderTest } from './harness';

/**
 * Reconciliation deprovisions an installation Talkdesk shows `revoked`, with the state's time (`endedAt`); the
 * uninstall that ended it, delivered after, is that end's (patch revoked-state-ends-its-life, seventeenth generation):
 * ignored, never a second uninstall phase on the finished installation ("no credentials were ever received").
 */
describe('installation workflow: the uninstall of an end reconciliation found (Talkdesk revoked)', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();
  const deprovisions = (s: ActivityStubs) => s.of('deprovisionAccount').length;
  /** Stubs whose partner deprovision signals it `began` and waits until `held` is resolved (an event queued meanwhile). */
  const heldDeprovision = () => {
    const held = deferred();
    const began = deferred();
    const stubs = new ActivityStubs().on('deprovisionAccount', async () => {
      began.resolve();
      await held.promise;
    });
    return { held, began, stubs };
  };

  it('an uninstall queued while the deprovision runs, older than the revoke, is ignored: one deprovision, the end kept', async () => {
    const { held, began, stubs } = heldDeprovision();
    const t = await start(stubs);
    await t.send(t.event('app.installed', { atSeconds: -20 }));
    await t.settled('active');
    // When the test began: no later than the workflow's clock, after the install and the uninstall.
    const endedAt = new Date(t.t0).toISOString();
    await t.handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked', endedAt });
    await began.promise;
    const uninstall = t.event('app.uninstalled', { atSeconds: -10 });
    await t.send(uninstall);
    held.resolve();
    const v = await t.result();
    assert.equal(v.phase, 'uninstalled');
    assert.match(v.ignoredEvents.find((e) => e.eventId === uninstall.eventId)?.reason ?? '', /already uninstalled/);
    assert.equal(deprovisions(t.stubs), 1, 'deprovisioned once, by reconciliation');
    const last = v.history.at(-1);
    assert.deepEqual([last?.phase, last?.result, last?.detail], ['uninstalled', 'deprovisioned', 'Talkdesk reports revoked']);
    assert.ok(!v.history.some((h) => h.phase === 'uninstalling'), 'no second uninstall phase');
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.uninstallEventAt, endedAt, "the end recorded at Talkdesk's time");
    const markers = await t.patches();
    assert.ok(markers.includes(PATCHES_DECIDED_AT_START_1_TO_18) && !markers.includes(REVOKED_STATE_ENDS_ITS_LIFE), 'decided at start');
  });

  for (const [ahead, taken] of [
    ['a minute (a clock ahead)', "taken at the workflow's clock"],
    ['forty years (a typo)', 'not taken'],
  ] as const)
    it(`an endedAt ${ahead} later than the workflow's clock is ${taken}: deprovisioned all the same`, async () => {
      const t = await start();
      await t.send(t.event('app.installed', { atSeconds: -20 }));
      await t.settled('active');
      const skew = taken === 'not taken' ? 40 * 365 * 86_400_000 : 60_000;
      const endedAt = new Date((await t.env.currentTimeMs()) + skew).toISOString();
      await t.handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked', endedAt });
      const v = await t.result();
      assert.deepEqual([v.phase, v.history.at(-1)?.detail], ['uninstalled', 'Talkdesk reports revoked']);
      const marked = t.stubs.of('recordInstallation').at(-1)?.uninstallEventAt as string | undefined;
      if (taken === 'not taken') assert.equal(marked, undefined);
      else
        assert.ok(marked && Date.parse(marked) < Date.parse(endedAt) && Date.parse(marked) > Date.parse(endedAt) - skew - 30_000, marked);
    });

  it("a second uninstall of the applied one's second (another event id), queued while it ran, is ignored: one uninstall phase", async () => {
    const { held, began, stubs } = heldDeprovision();
    const t = await start(stubs);
    await t.send(t.event('app.installed', { atSeconds: 1 }));
    await t.settled('active');
    await t.send(t.event('app.uninstalled', { atSeconds: 10 }));
    await began.promise;
    const second = t.event('app.uninstalled', { atSeconds: 10 });
    await t.send(second);
    held.resolve();
    const v = await t.result();
    assert.match(v.ignoredEvents.find((e) => e.eventId === second.eventId)?.reason ?? '', /already uninstalled/);
    assert.equal(v.history.filter((h) => h.phase === 'uninstalling').length, 1);
    assert.equal(deprovisions(t.stubs), 1);
  });

  /** A run for an installation its record shows ended by reconciliation at 30 s (install at 1 s), started by `event`. */
  async function runAfterTheEnd() {
    const sent = deferred();
    const t = await start(
      new ActivityStubs().on('loadInstallation', async () => {
        await sent.promise;
        const at = (s: number) => new Date(t.t0 + s * 1_000).toISOString();
        return { phase: 'uninstalled', appId: 'app-1', lastEventAt: at(1), installEventAt: at(1), uninstallEventAt: at(30) };
      }),
    );
    return { t, sendThenLoad: async (e: Parameters<typeof t.send>[0]) => (await t.send(e), sent.resolve()) };
  }

  it('a run started for that uninstall after the end (its record dated at the revoke) ignores it: nothing deprovisioned, no phase', async () => {
    const { t, sendThenLoad } = await runAfterTheEnd();
    const uninstall = t.event('app.uninstalled', { atSeconds: 20 });
    await sendThenLoad(uninstall);
    const v = await t.until('the uninstall handled', (s) => s.ignoredEvents.some((e) => e.eventId === uninstall.eventId));
    assert.match(v.ignoredEvents.find((e) => e.eventId === uninstall.eventId)?.reason ?? '', /already uninstalled/);
    assert.equal(deprovisions(t.stubs), 0);
    assert.equal(v.phase, 'uninstalled');
    assert.ok(!v.history.some((h) => h.phase === 'uninstalling'));
  });

  it("an uninstall newer than the end still waits for a new life's install (positive control: the boundary is the end)", async () => {
    const { t, sendThenLoad } = await runAfterTheEnd();
    const uninstall = t.event('app.uninstalled', { atSeconds: 40 });
    await sendThenLoad(uninstall);
    const v = await t.until('waiting for an install', (s) => /waiting for the app\.installed event/.test(s.currentStep ?? ''));
    assert.ok(!v.ignoredEvents.some((e) => e.eventId === uninstall.eventId));
    // A new life's install: then its uninstall is applied in turn.
    await t.send(t.event('app.installed', { atSeconds: 35 }));
    const done = await t.settled('uninstalled', (s) => s.history.some((h) => h.phase === 'uninstalling' && h.endedAt !== undefined));
    assert.ok(done.history.some((h) => h.eventId === uninstall.eventId));
  });

  it("an uninstall whose acknowledgement keeps failing, stopped by reconciliation's revoked: told as stopped, not as a failed acknowledgement", async () => {
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes === 'uninstall') throw unavailable();
      return { state: 'completed' };
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed', { atSeconds: -20 }));
    await t.settled('active');
    const uninstall = t.event('app.uninstalled', { atSeconds: -10 });
    await t.send(uninstall);
    await t.until('the acknowledgement retrying', () => t.stubs.of('setInstallationState').some((c) => c.concludes === 'uninstall'));
    await t.handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked', endedAt: new Date(t.t0).toISOString() });
    const v = await t.result();
    assert.equal(v.phase, 'uninstalled');
    const entry = v.history.find((h) => h.eventId === uninstall.eventId);
    assert.equal(entry?.result, 'interrupted');
    assert.match(entry?.outcome ?? '', /^stopped \(.*revoked.*\) before its acknowledgement landed: deprovisioned locally$/);
    assert.doesNotMatch(entry?.outcome ?? '', /acknowledgement failed/);
  });
});
