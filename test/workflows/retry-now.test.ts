import assert from 'node:assert/strict';
import { reconcileSignal, retryNowUpdate } from '../../workflows/definitions';
import { ActivityStubs, deferred, unavailable, useInstallationUnderTest } from './harness';
import { longTimersFired } from './scenarios';

const HOUR = 3_600_000;

/** The operator's `retryNow` where no backoff is running yet, or outside a phase. */
describe('installation workflow: retryNow during an attempt and outside a phase', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  it('during an attempt under way: should it fail, the retry follows at once (patch retry-now-follows-attempt)', async () => {
    const inFirst = deferred();
    const answerFirst = deferred();
    let approvals = 0;
    const stubs = new ActivityStubs().on('setInstallationState', async () => {
      if (++approvals === 1) {
        inFirst.resolve();
        await answerFirst.promise;
        throw unavailable();
      }
      return { state: 'completed' };
    });
    // The first backoff is an hour: only the request taken during the attempt brings the second one within the test.
    const t = await start(stubs, { retryInitialMs: HOUR });
    await t.send(t.event('app.installed'));
    await inFirst.promise;
    const accepted = await t.handle.executeUpdate(retryNowUpdate, { args: [{ reason: 'Talkdesk is back' }] });
    assert.deepEqual(
      accepted.operatorActions.map((a) => a.action),
      ['retryNow'],
    );
    answerFirst.resolve();
    const v = await t.settled('active');
    assert.equal(approvals, 2);
    assert.equal(v.lastError, undefined);
    assert.deepEqual(longTimersFired(await t.handle.fetchHistory(), HOUR), [], 'the hour of backoff did not pass');
  });

  it("outside a phase (reconciliation's deprovision backing off): taken, and the step retried at once", async () => {
    let deprovisions = 0;
    const stubs = new ActivityStubs().on('deprovisionAccount', async () => {
      if (++deprovisions === 1) throw unavailable();
    });
    const t = await start(stubs, { retryInitialMs: HOUR });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked' });
    await t.until('the deprovision backing off', (v) => /deprovision/i.test(v.lastError ?? ''));
    await t.handle.executeUpdate(retryNowUpdate, { args: [{ reason: 'partner store is back' }] });
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.equal(deprovisions, 2);
    // The workflow's own clock when it ended (the server's may skip on once the run completes).
    const ended = done.history.at(-1)?.endedAt;
    assert.ok(ended && Date.parse(ended) - t.t0 < HOUR, `ended at ${ended}: the hour of backoff did not pass`);
  });
});
