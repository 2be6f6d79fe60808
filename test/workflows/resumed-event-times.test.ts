import assert from 'node:assert/strict';
import { ActivityStubs, clientIdFor, deferred, resumedFromRecord, useInstallationUnderTest } from './harness';

/**
 * The times of the newest events applied are kept on the installation record, so that a new run judges late events
 * as the run before it would have: the newest update (`updateEventAt`) and trial event (`trialEventAt`) for a run
 * resumed from it (reconciliation, after the workflow was lost), the uninstall's own time (`uninstallEventAt`) for
 * a run after the end.
 */
const YEAR_MS = 365 * 86_400_000;
/**
 * Later than any event the test sends: fifty years past the time-skipping server's clock, which the tests before have
 * moved on (a fixed date, 2100, was overtaken once: the event then newer than the record's times).
 */
let LATER = '';
/** A year before LATER: the earlier life's uninstall, still after every event the test sends. */
let EARLIER_LIFE_ENDED = '';

/** A run resumed from an active record (its workflow lost) whose newest event applied is later than any the test sends. */
const resumedFrom = (times: { updateEventAt?: string; trialEventAt?: string; rotationEventAt?: string }) =>
  resumedFromRecord({ phase: 'active', lastEventAt: LATER, ...times });

describe('installation workflow: event times across runs', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();
  beforeEach(async () => {
    const now = await env().currentTimeMs();
    LATER = new Date(now + 50 * YEAR_MS).toISOString();
    EARLIER_LIFE_ENDED = new Date(now + 49 * YEAR_MS).toISOString();
  });

  it('records the newest update applied on the installation record', async () => {
    const t = await start();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const update = t.event('app.updated', { atSeconds: 30 });
    await t.send(update);
    await t.settled('active', (v) => v.appliedEvents === 2);
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.updateEventAt, update.createdAt);
    await t.send(t.event('app.updated', { atSeconds: 10 })); // late: the record keeps the newer one
    await t.settled('active', (v) => v.appliedEvents === 3);
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.updateEventAt, update.createdAt);
  });

  it("a run resumed from a reinstall's record knows the earlier life's uninstall: that life's trial event delivered late is over (patches-decided-at-start-12)", async () => {
    const t = await start(
      resumedFromRecord({ phase: 'active', lastEventAt: LATER, installEventAt: LATER, uninstallEventAt: EARLIER_LIFE_ENDED }),
    );
    const ended = t.event('app.trial_ended', { facts: { ended_reason: 'converted', ended_at: '2026-01-01T00:00:00Z' } });
    await t.send(ended);
    // Settled, not just decided: a test must not end with a step under way (its workflow terminated then, the
    // time-skipping server stays locked for the next file's tests).
    const v = await t.settled('active', (s) => s.ignoredEvents.some((e) => e.eventId === ended.eventId));
    assert.deepEqual(t.stubs.of('recordTrial'), [], "not recorded on the reinstall's account");
    assert.equal(v.trial, undefined);
  });

  it('a run resumed from the record judges an update older than the recorded one late: users re-read, nothing sent blind', async () => {
    // Newer than any event the test sends: the newest applied was an update.
    const stubs = resumedFrom({ updateEventAt: LATER });
    const t = await start(stubs);
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u-stale'], removing: [] } } }));
    const v = await t.settled('active', (s) => s.appliedEvents === 1);
    const apply = t.stubs.of('applyUpdate')[0];
    assert.deepEqual([apply?.resyncUsers, apply?.usersAdding], [true, []], 'its stale delta is not applied: users re-read');
    assert.equal(apply?.lateAfter, LATER, 'keyed by the newest update applied, as the record has it');
    const call = t.stubs.of('setInstallationState')[0];
    assert.deepEqual([call?.late, call?.checkFirst], [true, true], 'read first, never sent blind');
    assert.match(v.history.at(-1)?.detail ?? '', /late update/);
  });

  /**
   * A run of an installation its store shows uninstalled, with the times `times` gives (seconds from now): it reads
   * its record only once the test's event is sent, so that the event reaches this run.
   */
  async function uninstalledRecord(times: (at: (s: number) => string) => Record<string, string>) {
    const t0 = await env().currentTimeMs();
    const at = (s: number) => new Date(t0 + s * 1_000).toISOString();
    const sent = deferred();
    const stored = { phase: 'uninstalled', appId: 'app-1', handledEventIds: ['uninstall-1'], ...times(at) };
    const t = await start(
      new ActivityStubs().on('loadInstallation', async () => {
        await sent.promise;
        return stored;
      }),
    );
    const sendThenLoad = async (event: Parameters<typeof t.send>[0]) => {
      await t.send(event);
      sent.resolve();
    };
    return { t, at, sendThenLoad };
  }

  it("a reinstall older than an event a short run ignored after the uninstall is judged by the uninstall's own time: applied, not over", async () => {
    // Uninstalled at 30 s; a later life's trial (60 s), ignored by a short run, set lastEventAt.
    const { t, at, sendThenLoad } = await uninstalledRecord((at) => ({ lastEventAt: at(60), uninstallEventAt: at(30) }));
    const reinstall = t.event('app.installed', { atSeconds: 45 });
    await sendThenLoad(reinstall);
    const v = await t.settled('active');
    assert.equal(
      v.ignoredEvents.find((e) => e.eventId === reinstall.eventId),
      undefined,
      'not ignored as older than the uninstall',
    );
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.uninstallEventAt, at(30), 'the uninstall time recorded on');
  });

  it("a run resumed from the record takes the account's trial: its view shows the start, and an extension is recorded with it", async () => {
    const trial = { startedAt: '2026-11-01T10:00:00.000Z', expiresAt: '2026-11-15T10:00:00.000Z' };
    const t = await start(resumedFromRecord({ phase: 'active', trial }));
    await t.until('the resumed run loaded its record', (v) => v.phase === 'active');
    assert.deepEqual((await t.state()).trial, trial);
    await t.send(t.event('app.trial_extended', { facts: { expires_at: '2027-02-01T00:00:00Z' } }));
    const v = await t.settled('active', (s) => s.appliedEvents === 1);
    const extended = { startedAt: trial.startedAt, expiresAt: '2027-02-01T00:00:00Z' };
    assert.deepEqual(t.stubs.of('recordTrial')[0]?.trial, extended);
    assert.deepEqual(v.trial, extended);
  });

  it('a run resumed from the record with a newer trial event applied records an older one as superseded: the trial is not written over', async () => {
    const stubs = resumedFrom({ trialEventAt: LATER });
    const t = await start(stubs);
    await t.send(t.event('app.trial_extended', { facts: { expires_at: '2027-02-01T00:00:00Z' } }));
    const v = await t.settled('active', (s) => s.history.length === 1);
    assert.deepEqual(t.stubs.of('recordTrial'), [], 'the partner keeps the newer trial');
    assert.equal(v.history.at(-1)?.result, 'superseded');
  });

  it('records the newest rotation applied; a run resumed from the record never switches to an older one (its set is not the one Talkdesk keeps)', async () => {
    const t0 = await start();
    await t0.send(t0.event('app.installed'));
    await t0.settled('active');
    const rotation = t0.event('app.credentials_rotated', { atSeconds: 30 });
    await t0.send(rotation);
    await t0.settled('active', (v) => v.activeClientId === clientIdFor(rotation.eventId));
    assert.equal(t0.stubs.of('recordInstallation').at(-1)?.rotationEventAt, rotation.createdAt);

    const t = await start(resumedFrom({ rotationEventAt: LATER }));
    const late = t.event('app.credentials_rotated');
    await t.send(late);
    const v = await t.until('the late rotation decided', (s) => s.history.some((h) => h.eventId === late.eventId && h.endedAt));
    assert.equal(v.activeClientId, 'client-lost-run', 'the set the lost run had stays in use');
    assert.deepEqual(t.stubs.of('switchCredentials'), [], 'never switched to');
    assert.equal(v.history.at(-1)?.result, 'superseded');
  });

  it('a run after the end knows the newest trial event: an older one delivered late is superseded, not recorded (patches-decided-at-start-10)', async () => {
    const { t, sendThenLoad } = await uninstalledRecord((at) => ({
      lastEventAt: at(30),
      uninstallEventAt: at(30),
      installEventAt: at(1),
      trialEventAt: at(20),
    }));
    const late = t.event('app.trial_extended', { atSeconds: 15, facts: { expires_at: '2027-02-01T00:00:00Z' } });
    await sendThenLoad(late);
    const done = await t.result();
    assert.deepEqual(t.stubs.of('recordTrial'), [], 'before, it overwrote the ended trial on the account');
    assert.match(done.ignoredEvents.find((e) => e.eventId === late.eventId)?.reason ?? '', /older than an applied trial event/);
  });

  it("a run after a reinstall ended knows its install: the earlier life's uninstall delivered late is over (patches-decided-at-start-10)", async () => {
    // The reinstall (40 s) ended rejected; the earlier life's uninstall (30 s) arrives after.
    const { t, sendThenLoad } = await uninstalledRecord((at) => ({ phase: 'rejected', lastEventAt: at(40), installEventAt: at(40) }));
    const stale = t.event('app.uninstalled', { atSeconds: 30 });
    await sendThenLoad(stale);
    const done = await t.result();
    assert.equal(done.phase, 'rejected', 'before, the whole uninstall ran again: uninstalling, then uninstalled');
    assert.deepEqual(t.stubs.of('deprovisionAccount'), []);
  });

  it("an uninstall time from an earlier life (a reinstall ended without an uninstall event) is not taken: the record's last event is", async () => {
    // Uninstalled at 10 s, reinstalled at 40 s, then revoked: the record still names the first life's uninstall.
    const { t, sendThenLoad } = await uninstalledRecord((at) => ({
      lastEventAt: at(40),
      installEventAt: at(40),
      uninstallEventAt: at(10),
    }));
    const old = t.event('app.installed', { atSeconds: 20 });
    await sendThenLoad(old);
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.match(done.ignoredEvents.find((e) => e.eventId === old.eventId)?.reason ?? '', /older than the applied uninstall/);
  });
});
