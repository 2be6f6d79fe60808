import assert from 'node:assert/strict';
import { ActivityStubs, type InstallationUnderTest, clientIdFor, useInstallationUnderTest } from './harness';

/**
 * The sixteenth generation's two rules for events late against one of their kind (workflows/installation/late.ts,
 * rotation.ts): a late compromised rotation destroys the retiring sets Talkdesk revoked, and a trial event of the
 * applied one's second, earlier in the lifecycle's order, is late.
 */
describe('installation workflow: late against an event of its kind (patches-decided-at-start-16)', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  const active = async (stubs?: ActivityStubs) => {
    const t = await start(stubs);
    await t.send(t.event('app.installed', { atSeconds: 1 }));
    await t.settled('active');
    return t;
  };
  const ends = async (t: InstallationUnderTest, atSeconds: number) => {
    await t.send(t.event('app.uninstalled', { atSeconds }));
    return t.result();
  };

  /** Routine R2 (20 s) applied, its old set (the install's) retiring; then `late` (10 s), decided. */
  const routineThenLate = async (t: InstallationUnderTest, compromised: boolean) => {
    const routine = t.event('app.credentials_rotated', { atSeconds: 20, facts: { compromised: false } });
    await t.send(routine);
    const before = await t.settled('active', (s) => s.activeClientId === clientIdFor(routine.eventId));
    assert.equal(before.retiringCredentials.length, 1, 'the install set retires when the grace ends');
    const late = t.event('app.credentials_rotated', { atSeconds: 10, facts: { compromised } });
    await t.send(late);
    const v = await t.until('the late rotation decided', (s) => s.history.some((h) => h.eventId === late.eventId && h.endedAt));
    return { routine, late, retiringBefore: before.retiringCredentials, v };
  };

  it('a compromised rotation older than the applied one destroys the retiring set issued before it, now', async () => {
    const t = await active();
    const install = t.stubs.of('importCredentials')[0];
    const installClient = clientIdFor(String(install?.eventId));
    const { routine, late, retiringBefore, v } = await routineThenLate(t, true);
    assert.deepEqual(
      retiringBefore.map((r) => r.clientId),
      [installClient],
    );
    assert.deepEqual(t.stubs.distinct('destroyRevokedCredentials'), [
      { installationId: t.installationId, clientIds: [installClient], issuedBefore: late.createdAt },
    ]);
    assert.deepEqual(v.retiringCredentials, [], 'no retirement left to wait for');
    assert.equal(v.activeClientId, clientIdFor(routine.eventId), 'the newer set stays in use');
    assert.match(v.history.find((h) => h.eventId === late.eventId)?.detail ?? '', /retiring credentials issued before it destroyed/);
    const done = await ends(t, 30);
    assert.equal(done.phase, 'uninstalled');
  });

  it('a retiring set the store does not show issued before it keeps its retirement (the workflow drops only what the store destroyed)', async () => {
    const t = await active(new ActivityStubs().on('destroyRevokedCredentials', async () => ({ clientIds: [] })));
    const { late, retiringBefore, v } = await routineThenLate(t, true);
    assert.equal(t.stubs.distinct('destroyRevokedCredentials').length, 1);
    assert.deepEqual(v.retiringCredentials, retiringBefore, 'kept until its grace ends');
    assert.doesNotMatch(v.history.find((h) => h.eventId === late.eventId)?.detail ?? '', /retiring credentials/);
    await ends(t, 30);
  });

  it('a routine late rotation leaves the retiring sets to their grace (nothing revoked)', async () => {
    const t = await active();
    const { retiringBefore, v } = await routineThenLate(t, false);
    assert.equal(t.stubs.of('destroyRevokedCredentials').length, 0);
    assert.deepEqual(v.retiringCredentials, retiringBefore);
    await ends(t, 30);
  });

  it('a trial_started of the second of the applied trial_ended is late: the ended trial stays ended, its record not sent', async () => {
    const t = await active();
    const ended = t.event('app.trial_ended', { atSeconds: 20, facts: { ended_at: '2026-12-01T00:00:00Z', ended_reason: 'expired' } });
    await t.send(ended);
    await t.settled('active', (v) => v.appliedEvents === 2);
    const started = t.event('app.trial_started', { atSeconds: 20, facts: { expires_at: '2027-01-01T00:00:00Z' } });
    await t.send(started);
    const v = await t.until('the late trial event recorded', (s) => s.history.some((h) => h.eventId === started.eventId));
    assert.equal(v.trial?.endedAt, '2026-12-01T00:00:00Z', 'the trial stays ended');
    assert.deepEqual(
      t.stubs.of('recordTrial').map((r) => r.eventType),
      ['app.trial_ended'],
    );
    assert.equal(v.history.find((h) => h.eventId === started.eventId)?.result, 'superseded');
    assert.match(
      v.ignoredEvents.find((e) => e.eventId === started.eventId)?.reason ?? '',
      /trial event's second, earlier .*keeps the newer trial/,
    );
    await ends(t, 30);
  });

  it('so is one that a newer event of another kind made late too (an update applied since): judged by the trial rule, not applied', async () => {
    const t = await active();
    await t.send(t.event('app.trial_ended', { atSeconds: 20, facts: { ended_at: '2026-12-01T00:00:00Z', ended_reason: 'expired' } }));
    await t.send(t.event('app.updated', { atSeconds: 25 }));
    await t.settled('active', (v) => v.appliedEvents === 3);
    const started = t.event('app.trial_started', { atSeconds: 20, facts: { expires_at: '2027-01-01T00:00:00Z' } });
    await t.send(started);
    const v = await t.until('the late trial event recorded', (s) => s.history.some((h) => h.eventId === started.eventId));
    assert.equal(v.trial?.endedAt, '2026-12-01T00:00:00Z', 'the trial stays ended');
    assert.equal(t.stubs.of('recordTrial').length, 1);
    assert.equal(v.appliedEvents, 3);
    await ends(t, 30);
  });

  it('a trial_ended of the second of the applied trial_started is in order: applied, the trial ends', async () => {
    const t = await active();
    await t.send(t.event('app.trial_started', { atSeconds: 20, facts: { expires_at: '2027-01-01T00:00:00Z' } }));
    await t.settled('active', (v) => v.appliedEvents === 2);
    const ended = t.event('app.trial_ended', { atSeconds: 20, facts: { ended_at: '2026-12-01T00:00:00Z', ended_reason: 'expired' } });
    await t.send(ended);
    const v = await t.settled('active', (s) => s.appliedEvents === 3);
    assert.equal(v.trial?.endedAt, '2026-12-01T00:00:00Z');
    assert.deepEqual(
      t.stubs.of('recordTrial').map((r) => r.eventType),
      ['app.trial_started', 'app.trial_ended'],
    );
    await ends(t, 30);
  });
});
