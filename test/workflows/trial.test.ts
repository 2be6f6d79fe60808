import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import type { InstallationInput } from '../../workflows/installation/workflow';
import { reconcileSignal, retryNowUpdate } from '../../workflows/definitions';
import { ActivityStubs, DAY, blockingUntilCancelled, clientIdFor, phases, refused, unavailable, useInstallationUnderTest } from './harness';
import { longTimersFired } from './scenarios';

/**
 * The trial's record on the partner account (patch `trial-record-interruptible`): a partner down
 * for days must not hold back an uninstall or reconciliation, nor retry for ever.
 */
describe('installation workflow: recording a trial on the partner account', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  /** An active installation whose partner refuses every trial record (retryable) until `partnerBack()`. */
  const withPartnerDown = async () => {
    let down = true;
    const stubs = new ActivityStubs().on('recordTrial', async () => {
      if (down) throw unavailable();
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const trial = t.event('app.trial_started', { facts: { expires_at: '2027-01-01T00:00:00Z' } });
    await t.send(trial);
    await t.until('the trial record to be retrying', (v) => /record the trial/.test(v.lastError ?? '') && v.attempts > 1);
    return { t, trial, partnerBack: () => (down = false) };
  };
  const trialRecords = (t: { stubs: ActivityStubs }) => t.stubs.of('recordTrial').length;

  it('an uninstall interrupts a trial record retrying for days: the trial is given up, the uninstall acknowledged at once', async () => {
    const { t, trial } = await withPartnerDown();
    await env().sleep('2 days');
    const uninstall = t.event('app.uninstalled', { atSeconds: 2 * 86_400 });
    await t.send(uninstall);
    // An hour of the server's time: long enough for the uninstall, far shorter than a partner outage.
    await env().sleep('1 hour');
    const v = await t.state();
    assert.equal(v.phase, 'uninstalled', `the uninstall waited behind the retrying trial record (phase ${v.phase}, ${v.lastError ?? ''})`);
    const done = await t.result();
    assert.deepEqual(phases(done), ['installing', 'active', 'uninstalling']);
    const entry = done.history.find((h) => h.eventId === trial.eventId);
    assert.equal(entry?.result, 'interrupted');
    assert.equal(entry?.detail, 'interrupted by uninstall');
    assert.match(entry?.outcome ?? '', /not recorded on the partner account/);
    assert.equal(done.trial?.expiresAt, '2027-01-01T00:00:00Z', 'the trial facts are kept on the installation');
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
    const took = Date.parse(done.history.at(-1)?.endedAt ?? '') - Date.parse(uninstall.createdAt);
    assert.ok(took < 3_600_000, `uninstalled within the hour (${took} ms)`);
    const names = t.stubs.names();
    assert.ok(names.lastIndexOf('recordTrial') < names.indexOf('deprovisionAccount'), 'no trial record after the uninstall began');
  });

  it('an uninstall stopping a trial record in flight waits until its attempt has stopped before deprovisioning (patches-decided-at-start-9)', async () => {
    const recording = blockingUntilCancelled();
    let callsWhenStopped = -1;
    void recording.stopped.then(() => (callsWhenStopped = t.stubs.calls.length));
    const t = await start(new ActivityStubs().on('recordTrial', recording.stub));
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.trial_started', { facts: { expires_at: '2027-01-01T00:00:00Z' } }));
    await recording.started;
    await t.send(t.event('app.uninstalled', { atSeconds: 60 }));
    const done = await t.result();
    assert.deepEqual(phases(done), ['installing', 'active', 'uninstalling']);
    assert.ok(callsWhenStopped > 0, 'the trial record was cancelled');
    assert.ok(t.stubs.names().indexOf('deprovisionAccount') >= callsWhenStopped, 'the deprovision began only after the record stopped');
  });

  it('an update queued behind a trial record that keeps failing goes on at once; the trial is kept on the installation (patches-decided-at-start-9)', async () => {
    const { t, trial } = await withPartnerDown();
    await env().sleep('2 hours');
    const update = t.event('app.updated', { atSeconds: 2 * 3_600, facts: { users: { adding: ['u9'] } } });
    await t.send(update);
    await env().sleep('10 minutes');
    const v = await t.state();
    assert.equal(v.history.at(-1)?.eventId, update.eventId, `the update waited behind the trial record (${v.lastError ?? ''})`);
    assert.equal(v.history.at(-1)?.result, 'approved');
    const entry = v.history.find((h) => h.eventId === trial.eventId);
    assert.equal(entry?.result, 'interrupted');
    assert.equal(entry?.detail, 'interrupted by an install, update or rotation queued behind it');
    assert.equal(v.trial?.expiresAt, '2027-01-01T00:00:00Z', 'the trial facts are kept on the installation');
  });

  it('an install of an earlier life queued behind a trial record failing for hours does not make it give way: it is over (patches-decided-at-start-10)', async () => {
    let down = true;
    const t = await start(
      new ActivityStubs().on('recordTrial', async () => {
        if (down) throw unavailable();
      }),
    );
    await t.send(t.event('app.installed', { atSeconds: 40 })); // a same-id reinstall, applied
    await t.settled('active');
    const trial = t.event('app.trial_started', { atSeconds: 50, facts: { expires_at: '2027-01-01T00:00:00Z' } });
    await t.send(trial);
    await t.until('the trial record to be retrying', (v) => /record the trial/.test(v.lastError ?? '') && v.attempts > 1);
    await env().sleep('2 hours');
    const stale = t.event('app.installed', { atSeconds: 1 }); // the earlier life's, delivered late
    await t.send(stale);
    await env().sleep('10 minutes');
    const interrupted = (await t.state()).history.find((h) => h.eventId === trial.eventId);
    assert.equal(interrupted, undefined, 'the trial record was given up for an install that is over');
    down = false;
    await env().sleep('2 hours');
    const v = await t.state();
    assert.ok(
      v.ignoredEvents.some((e) => e.eventId === stale.eventId),
      'the stale install decided, after the trial record landed',
    );
    assert.equal(
      v.history.find((h) => h.eventId === trial.eventId),
      undefined,
      'recorded: no entry of a record given up',
    );
    assert.deepEqual(
      t.stubs.of('importCredentials').filter((i) => i.eventId === stale.eventId),
      [],
    );
  });

  it('a rotation queued behind a trial record failing for hours goes on too; cancelling the workflow then ends it cancelled', async () => {
    const { t } = await withPartnerDown();
    await env().sleep('2 hours');
    const rotation = t.event('app.credentials_rotated', { atSeconds: 2 * 3_600, facts: { compromised: true } });
    await t.send(rotation);
    await env().sleep('10 minutes');
    assert.equal((await t.state()).activeClientId, clientIdFor(rotation.eventId), 'switched to the new set');
    // A trial record retrying again (a new trial event), then the workflow cancelled by an operator: it ends cancelled.
    await t.send(t.event('app.trial_extended', { atSeconds: 3 * 3_600, facts: { expires_at: '2027-02-01T00:00:00Z' } }));
    await t.until('the new trial record retrying', (v) => /record the trial/.test(v.lastError ?? '') && v.attempts > 1);
    await t.handle.cancel();
    await assert.rejects(t.result(), (err: Error) => /cancel/i.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`));
  });

  it('a trial record that fails once then lands is not given up for an update queued behind it', async () => {
    let failures = 0;
    const t = await start(
      new ActivityStubs().on('recordTrial', async () => {
        if (failures++ < 1) throw unavailable();
      }),
    );
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const ended = t.event('app.trial_ended', { atSeconds: 60, facts: { ended_reason: 'plan_upgraded' } });
    const update = t.event('app.updated', { atSeconds: 61, facts: { users: { adding: ['u9'] } } });
    await t.send(ended, update);
    const v = await t.settled('active', (s) => s.history.at(-1)?.eventId === update.eventId);
    assert.equal(v.history.at(-1)?.result, 'approved');
    assert.equal(t.stubs.of('recordTrial').length, 2, 'retried, and recorded');
    assert.ok(!v.history.some((h) => h.eventId === ended.eventId), 'no entry: the trial end was recorded');
  });

  it('a trial end queued ahead of the uninstall (the same second) is superseded by it: not recorded, the uninstall acknowledged at once', async () => {
    const { t } = await withPartnerDown();
    const at = 86_400;
    const ended = t.event('app.trial_ended', { atSeconds: at, facts: { ended_reason: 'uninstalled' } });
    await t.send(ended);
    // Interrupts the retrying trial start; the trial end sorts ahead of it (same second), with nothing left to interrupt it.
    await t.send(t.event('app.uninstalled', { atSeconds: at }));
    await env().sleep('1 hour');
    const v = await t.state();
    assert.equal(v.phase, 'uninstalled', `the uninstall waited behind the trial end (phase ${v.phase}, ${v.lastError ?? ''})`);
    const done = await t.result();
    assert.match(
      done.ignoredEvents.find((e) => e.eventId === ended.eventId)?.reason ?? '',
      /app.trial_ended superseded by a queued uninstall/,
    );
    assert.ok(!t.stubs.of('recordTrial').some((c) => c.eventId === ended.eventId), 'the trial end not recorded');
    assert.equal(done.trial?.endedReason, 'uninstalled', 'kept on the installation all the same');
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
  });

  it('reconciliation (Talkdesk reports revoked) interrupts a retrying trial record and deprovisions', async () => {
    const { t, trial } = await withPartnerDown();
    await t.handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked' });
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.equal(done.history.find((h) => h.eventId === trial.eventId)?.detail, 'interrupted by Talkdesk reporting revoked');
    assert.deepEqual(t.stubs.names().slice(-3), ['deprovisionAccount', 'destroyCredentials', 'recordInstallation']);
  });

  it('a trial record failing for seven days is given up with its reason; the installation stays active and goes on', async () => {
    const { t, trial } = await withPartnerDown();
    await env().sleep('8 days');
    const v = await t.settled('active', (s) => s.history.some((h) => h.eventId === trial.eventId));
    const entry = v.history.find((h) => h.eventId === trial.eventId);
    assert.equal(entry?.result, 'expired');
    assert.match(entry?.outcome ?? '', /not recorded on the partner account \(the partner kept failing until its deadline\)/);
    const span = Date.parse(entry?.endedAt ?? '') - Date.parse(entry?.startedAt ?? '');
    assert.ok(span >= 7 * DAY && span < 7 * DAY + 3_600_000, `retried for the seven days, no longer (${span} ms)`);
    assert.equal(v.trial?.expiresAt, '2027-01-01T00:00:00Z');
    assert.equal(v.deadline, undefined);
    const attempts = trialRecords(t);
    await t.send(t.event('app.uninstalled', { atSeconds: 9 * 86_400 }));
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.equal(trialRecords(t), attempts, 'not retried after it was given up');
  });

  it('a trial record step failing for good (non-retryable, not a partner refusal, which the activity records and goes on) fails the workflow', async () => {
    const t = await start(new ActivityStubs().on('recordTrial', async () => Promise.reject(refused('partner refused the trial (400)'))));
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.trial_started'));
    await assert.rejects(t.result(), (err: Error & { cause?: Error }) =>
      /record the trial on the account failed for good/.test(err.cause?.message ?? ''),
    );
  });

  it('a trial record retrying for hours continues as new at a backoff; the next run goes on with the same deadline', async () => {
    let failures = 0;
    const runs = new Set<string>();
    const stubs = new ActivityStubs().on('recordTrial', async () => {
      runs.add(Context.current().info.workflowExecution?.runId ?? '');
      if (failures++ < 20) throw unavailable();
    });
    // About eleven events an attempt: a run holds a handful of attempts.
    const t = await start(stubs, { retryInitialMs: 1_000, retryMaxMs: 4_000, maxHistoryEventsPerRun: 80 });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const trial = t.event('app.trial_started', { facts: { expires_at: '2027-01-01T00:00:00Z' } });
    await t.send(trial);
    const during = await t.until('the trial record to be retrying', (v) => /record the trial/.test(v.lastError ?? '') && v.attempts > 1);
    await env().sleep('2 hours');
    const v = await t.settled('active', (s) => s.lastError === undefined && s.appliedEvents === 2);
    assert.ok(runs.size >= 2, `the trial record went on in a later run (${runs.size} run)`);
    assert.equal(trialRecords(t), 21, 'every attempt once, the last one recorded');
    assert.equal(
      v.history.find((h) => h.eventId === trial.eventId),
      undefined,
      'recorded, not given up',
    );
    assert.equal(v.deadline, undefined);
    assert.ok(during.deadline, 'the record had a deadline');
    const started = (await t.handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    assert.ok(started, 'the last run has an input');
    const carried = defaultPayloadConverter.fromPayload<InstallationInput>(started).carried;
    assert.equal(carried?.resume?.event.eventId, trial.eventId, 'the last run re-entered the trial record');
    assert.equal(carried?.deadline, during.deadline, 'with the deadline it had');
    assert.equal(v.trial?.expiresAt, '2027-01-01T00:00:00Z');
  });

  it('retryNow cuts the backoff of a trial record short (before the patch: nothing to retry)', async () => {
    let failures = 0;
    const stubs = new ActivityStubs().on('recordTrial', async () => {
      if (failures++ < 1) throw unavailable();
    });
    // The first backoff is an hour: only retryNow brings the second attempt within the test.
    const t = await start(stubs, { retryInitialMs: 3_600_000 });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.trial_started'));
    await t.until('the trial record in its backoff', (v) => /record the trial/.test(v.lastError ?? ''));
    await t.handle.executeUpdate(retryNowUpdate, { args: [{ reason: 'partner is back' }] });
    await t.settled('active', (v) => v.lastError === undefined && v.appliedEvents === 2);
    assert.equal(trialRecords(t), 2);
    assert.deepEqual(longTimersFired(await t.handle.fetchHistory(), 3_600_000), [], 'the hour of backoff did not pass');
  });

  it('a partner back within the deadline records the trial; the phase history has no entry for it', async () => {
    const { t, trial, partnerBack } = await withPartnerDown();
    partnerBack();
    const v = await t.settled('active', (s) => s.lastError === undefined);
    assert.equal(
      v.history.find((h) => h.eventId === trial.eventId),
      undefined,
    );
    assert.ok(trialRecords(t) > 1);
    assert.equal(v.deadline, undefined);
  });
});
