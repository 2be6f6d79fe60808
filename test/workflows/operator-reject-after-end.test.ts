import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { reconcileSignal, rejectUpdate } from '../../workflows/definitions';
import { ActivityStubs, deferred, refusal, useInstallationUnderTest } from './harness';

/**
 * An operator's reject and an operation that ends by itself at the same moment: refused while the phase is already
 * stopping (its deadline reached, or ended by reconciliation); accepted as an attempt was in flight whose answer then ended the operation
 * (Talkdesk shows it timed out), not applied (patch operator-reject-after-the-end-not-applied): before, an installation
 * Talkdesk timed out was undone a second time and recorded `rejected`, and an update that ended not open sent a
 * rejection that concluded whatever Talkdesk had opened since.
 */
describe('installation workflow: an operator reject when the operation ends by itself first', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  it('while an update is stopping (reconciliation ended it; its change winding down): refused; nothing sent', async () => {
    const inApply = deferred();
    const cancelled = deferred();
    const release = deferred();
    const stubs = new ActivityStubs().on('applyUpdate', async () => {
      inApply.resolve();
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 200);
      try {
        await ctx.cancelled;
      } catch (err) {
        cancelled.resolve();
        await release.promise; // its cancellation takes a while (the partner's call winding down)
        throw err;
      } finally {
        clearInterval(beat);
      }
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    await inApply.promise;
    await t.handle.signal(reconcileSignal, { action: 'endUpdate', talkdeskState: 'timeout' });
    await cancelled.promise;
    assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'stuck' }] })), /already stopping/);
    release.resolve();
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'interrupted');
    assert.deepEqual(v.operatorActions, []);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install'], 'no rejection sent');
  });

  it('accepted while an update was being applied, which then failed for good and was rejected on its own: no second rejection (patches-decided-at-start-12)', async () => {
    const inApply = deferred();
    const answer = deferred();
    const stubs = new ActivityStubs().on('applyUpdate', async () => {
      inApply.resolve();
      await answer.promise; // no heartbeat: the cancellation is not seen, the partner's refusal is the answer
      throw ApplicationFailure.nonRetryable('account locked', 'PartnerRefused');
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    await inApply.promise;
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'plan not allowed' }] });
    answer.resolve();
    const v = await t.settled('active', (s) => /operator reject not applied/.test(s.history.at(-1)?.outcome ?? ''));
    assert.equal(v.history.at(-2)?.result, 'rejected', 'the update failed and was rejected on its own');
    assert.match(v.history.at(-1)?.outcome ?? '', /the update had ended \(rejected: /);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'reject'], "one rejection: the update's own");
    assert.match(String(t.stubs.of('setInstallationState').at(-1)?.reason), /^Update failed/);
    assert.equal(t.stubs.of('revertUpdate').length, 1, 'reverted once');
  });

  /** The approval of `concludes` waits for the test, then answers what Talkdesk shows: timed out, nothing sent. */
  function timedOutWhileApproving(concludes: 'install' | 'update') {
    const inApprove = deferred();
    const answer = deferred();
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.state === 'approve' && i.concludes === concludes) {
        inApprove.resolve();
        await answer.promise;
        return { state: 'timeout', notSent: true };
      }
      return { state: i.state === 'approve' ? 'completed' : 'rejected' };
    });
    return { stubs, inApprove: inApprove.promise, answer: () => answer.resolve() };
  }

  it('accepted while the install approval was in flight, which found it timed out at Talkdesk: not applied', async () => {
    const { stubs, inApprove, answer } = timedOutWhileApproving('install');
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await inApprove;
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'fraud check' }] });
    answer();
    const done = await t.result();
    assert.equal(done.phase, 'expired', 'as Talkdesk shows it');
    assert.equal(done.history.at(-1)?.result, 'not-open');
    assert.match(done.history.at(-1)?.outcome ?? '', /operator reject not applied: the installation had ended expired/);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install'], 'no rejection sent');
    assert.equal(t.stubs.of('undoProvisioning').length, 1, 'undone once');
  });

  it('accepted while an update approval was in flight, which found it timed out at Talkdesk: no rejection sent', async () => {
    const { stubs, inApprove, answer } = timedOutWhileApproving('update');
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    await inApprove;
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'plan not allowed' }] });
    answer();
    const v = await t.settled('active', (s) => /operator reject not applied/.test(s.history.at(-1)?.outcome ?? ''));
    assert.equal(v.history.at(-2)?.result, 'not-open', 'the update ended as Talkdesk shows it');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:update'], 'no rejection sent');
    assert.equal(t.stubs.of('revertUpdate').length, 1, 'reverted once');
    assert.equal((await t.handle.describe()).status.name, 'RUNNING');
  });
});
