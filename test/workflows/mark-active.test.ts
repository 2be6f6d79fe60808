import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { reconcileSignal, retryNowUpdate, type InstallationPhase } from '../../workflows/definitions';
import { eventually } from '../support/waits';
import { ActivityStubs, DAY, deferred, unavailable, useInstallationUnderTest } from './harness';
import { longTimersFired, timerDurations } from './scenarios';

/**
 * Reconciliation's markActive: a pass read Talkdesk showing the install or update completed. It
 * never ends a phase by itself (patch `mark-active-retries-state-call`): the phase's state call,
 * which reads Talkdesk's state first, decides.
 */
describe('installation workflow: reconciliation marking a phase active', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();
  const HOUR = 3_600_000;

  /** Waits until a workflow task completed after the last signal: the workflow has handled it. */
  const signalHandled = (handle: WorkflowHandle) =>
    eventually('a workflow task completed after the signal (it was handled)', async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const signal = events.findLastIndex((e) => e.workflowExecutionSignaledEventAttributes);
      return signal >= 0 && events.slice(signal).some((e) => e.workflowTaskCompletedEventAttributes) ? true : undefined;
    });
  /** Activities (and local ones) scheduled since the last signal: an attempt it hurried is scheduled by the task that handled it. */
  const scheduledSinceLastSignal = async (handle: WorkflowHandle) => {
    const events = (await handle.fetchHistory()).events ?? [];
    return events
      .slice(events.findLastIndex((e) => e.workflowExecutionSignaledEventAttributes))
      .filter((e) => e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
  };
  const retrying = (phase: InstallationPhase) => (v: { phase: string; lastError?: string }) =>
    v.phase === phase && v.lastError !== undefined;

  /**
   * Talkdesk as the activity sees it: the approval of `concludes` fails (500) until Talkdesk shows
   * that operation completed (`talkdesk.completed`: another call concluded it), which a read
   * (`checkFirst`) then reports without sending anything.
   */
  const talkdeskConcluding = (concludes: string) => {
    const talkdesk = { completed: false };
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes !== concludes) return { state: 'completed' };
      if (talkdesk.completed && i.checkFirst) return { state: 'completed', alreadyConcluded: true };
      throw unavailable();
    });
    return { talkdesk, stubs };
  };

  /** Talkdesk answers the state calls concluding `concludes` (sent, `completed`) only while `talkdesk.answers`. */
  const talkdeskAnswering = (concludes: string, answers: boolean) => {
    const talkdesk = { answers };
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes === concludes && !talkdesk.answers) throw unavailable();
      return { state: 'completed' };
    });
    return { talkdesk, stubs };
  };

  it('makes an install retrying its approval read Talkdesk at once: completed there, it ends approved, keeping what was provisioned', async () => {
    const { talkdesk, stubs } = talkdeskConcluding('install');
    const t = await start(stubs, { retryInitialMs: HOUR });
    await t.send(t.event('app.installed'));
    await t.until('the install to be retrying its approval', retrying('installing'));
    talkdesk.completed = true;
    await t.handle.signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
    const v = await t.settled('active');
    assert.deepEqual(
      v.history.map((h) => [h.phase, h.result]),
      [['installing', 'approved']],
    );
    assert.deepEqual(longTimersFired(await t.handle.fetchHistory(), HOUR), [], 'retried at once, not after the hour of backoff');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:install']);
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.checkFirst, true);
    assert.deepEqual(t.stubs.of('undoProvisioning'), []);
    assert.deepEqual(t.stubs.of('destroyCredentials'), []);
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.phase, 'active');
  });

  it('an update Talkdesk completed ends approved with the subscription of the update it concludes', async () => {
    const { talkdesk, stubs } = talkdeskConcluding('update');
    const t = await start(stubs, { retryInitialMs: HOUR });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { subscription: { plan: 'gold' }, users: { adding: [], removing: [] } } }));
    await t.until('the update to be retrying its approval', retrying('updating'));
    talkdesk.completed = true;
    await t.handle.signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
    const v = await t.settled('active', (s) => s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'approved');
    assert.deepEqual(v.subscription, { plan: 'gold' });
    assert.deepEqual(longTimersFired(await t.handle.fetchHistory(), HOUR), [], 'retried at once, not after the hour of backoff');
  });

  it('a stale markActive (Talkdesk still shows the update open) does not end the update: its approval is sent at once', async () => {
    // The pass read an earlier update completed; this one is still pending at Talkdesk, its approval backing off.
    // Once Talkdesk answers, the activity (reading first: a retry) finds the update open and sends the approval,
    // answered `completed`: what the stub returns (an update it had found concluded would be `alreadyConcluded`).
    const { talkdesk, stubs } = talkdeskAnswering('update', false);
    const t = await start(stubs, { retryInitialMs: HOUR });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { subscription: { plan: 'gold' }, users: { adding: ['u-9'], removing: [] } } }));
    await t.until('the update to be retrying its approval', retrying('updating'));
    talkdesk.answers = true;
    await t.handle.signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
    const v = await t.settled('active', (s) => s.history.at(-1)?.endedAt !== undefined);
    assert.deepEqual(
      v.history.map((h) => [h.phase, h.result]),
      [
        ['installing', 'approved'],
        ['updating', 'approved'],
      ],
    );
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:update', 'approve:update'], 'the approval sent');
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.checkFirst, true, 'after reading what Talkdesk shows');
    assert.deepEqual(longTimersFired(await t.handle.fetchHistory(), HOUR), [], 'retried at once, not after the hour of backoff');
    assert.deepEqual(t.stubs.of('revertUpdate'), []);
  });

  it('arriving while the approval is in flight: that attempt fails, and the retry follows at once, not after the backoff', async () => {
    const talkdesk = { completed: false };
    const inFlight = deferred();
    const answer = deferred();
    let calls = 0;
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      // The second attempt hangs until the test lets it fail: the signal arrives during it.
      if (++calls === 2) {
        inFlight.resolve();
        await answer.promise;
        throw unavailable();
      }
      if (talkdesk.completed && i.checkFirst) return { state: 'completed', alreadyConcluded: true };
      throw unavailable();
    });
    const t = await start(stubs, { retryInitialMs: HOUR });
    await t.send(t.event('app.installed'));
    await t.until('the install to be retrying its approval', retrying('installing'));
    await t.handle.executeUpdate(retryNowUpdate, { args: [{ reason: 'start the second attempt' }] });
    await inFlight.promise;
    talkdesk.completed = true;
    await t.handle.signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
    await signalHandled(t.handle);
    answer.resolve(); // the attempt in flight fails (it sent its approval blind; Talkdesk answered 500)
    const v = await t.settled('active');
    assert.equal(v.history.at(-1)?.result, 'approved');
    assert.deepEqual(longTimersFired(await t.handle.fetchHistory(), HOUR), [], 'retried at once, not after the hour of backoff');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:install', 'approve:install']);
  });

  it("does not hurry an approval waiting for Talkdesk's Retry-After (429): Talkdesk limits the rate", async () => {
    const talkdesk = { completed: false };
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (talkdesk.completed && i.checkFirst) return { state: 'completed', alreadyConcluded: true };
      throw ApplicationFailure.create({ message: 'throttled (429)', type: 'TalkdeskRateLimited', details: [{ retryAfterMs: 300_000 }] });
    });
    const t = await start(stubs, { retryInitialMs: 1_000 });
    await t.send(t.event('app.installed'));
    await t.until('the install to be waiting its Retry-After', retrying('installing'));
    talkdesk.completed = true;
    await t.handle.signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
    await signalHandled(t.handle);
    assert.deepEqual(await scheduledSinceLastSignal(t.handle), [], 'not hurried: no attempt scheduled by the signal');
    assert.equal(t.stubs.of('setInstallationState').length, 1, 'no attempt before the Retry-After');
    await env().sleep('4 minutes'); // inside the Retry-After, past any backoff of 1 s
    assert.equal(t.stubs.of('setInstallationState').length, 1, 'still none: it waits what Talkdesk asked');
    await env().sleep('2 minutes'); // past the Retry-After
    const v = await t.settled('active');
    assert.equal(v.history.at(-1)?.result, 'approved');
    // The wait is the five minutes Talkdesk asked for, not what the test slept: the backoff timer's own duration.
    const waits = timerDurations(await t.handle.fetchHistory()).filter((ms) => ms >= 60_000 && ms < DAY);
    assert.deepEqual(waits, [300_000], `the backoff timers of a minute or more: ${waits.join(', ')}`);
  });

  it('before an update has begun its approval is ignored: the update is applied, then approved', async () => {
    // Talkdesk shows the update completed (another call concluded it) while its users are still being applied here.
    let partnerDown = true;
    const t = await start(
      new ActivityStubs().on('applyUpdate', async (i) => {
        if (partnerDown) throw unavailable();
        return { usersAdded: i.usersAdding, usersDeactivated: i.usersRemoving };
      }),
      { retryInitialMs: 60_000 },
    );
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { subscription: { plan: 'gold' }, users: { adding: ['u-9'], removing: [] } } }));
    await t.until('the update applying, backing off', retrying('updating'));
    const applies = t.stubs.of('applyUpdate').length;
    await t.handle.signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
    await signalHandled(t.handle);
    assert.deepEqual(await scheduledSinceLastSignal(t.handle), [], "the apply step's backoff is not cut short");
    assert.equal(t.stubs.of('applyUpdate').length, applies);
    partnerDown = false;
    await env().sleep('2 minutes'); // past the step's backoff
    const v = await t.settled('active', (s) => s.history.length === 2 && s.history[1]?.endedAt !== undefined);
    assert.deepEqual(
      v.history.map((h) => [h.phase, h.result]),
      [
        ['installing', 'approved'],
        ['updating', 'approved'],
      ],
    );
    assert.deepEqual(t.stubs.of('applyUpdate').at(-1)?.usersAdding, ['u-9']);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:update']);
    // Talkdesk showed it completed: its first attempt reads the state first (no blind approval, no stray 409).
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.checkFirst, true);
    assert.deepEqual(v.subscription, { plan: 'gold' });
  });

  it('read before the install ended does not stop the uninstall running when it arrives', async () => {
    // The pass read the install running and found it completed at Talkdesk; by the time its
    // signal arrives the install is over and the uninstall's acknowledgement is backing off.
    const { talkdesk, stubs } = talkdeskAnswering('uninstall', true);
    const t = await start(stubs, { retryInitialMs: 60_000 });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    talkdesk.answers = false;
    await t.send(t.event('app.uninstalled'));
    await t.until('the acknowledgement backing off', retrying('uninstalling'));
    await t.handle.signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed' });
    await signalHandled(t.handle);
    talkdesk.answers = true;
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(
      done.history.map((h) => [h.phase, h.result]),
      [
        ['installing', 'approved'],
        ['uninstalling', 'acknowledged'],
      ],
    );
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:uninstall', 'approve:uninstall']);
  });
});
