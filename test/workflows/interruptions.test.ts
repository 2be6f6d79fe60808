import assert from 'node:assert/strict';
import { reconcileSignal, rejectUpdate, retryNowUpdate, type InstallationPhase, type ReconcileAction } from '../../workflows/definitions';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { OPERATOR_REQUEST_REFUSED } from '../../workflows/installation/handlers';
import { eventually } from '../support/waits';
import { ActivityStubs, blockingUntilCancelled, phases, refusal, refused, unavailable, useInstallationUnderTest } from './harness';
import { longTimersFired } from './scenarios';

/** What stops a phase before it ends by itself: an uninstall, an operator, reconciliation. */
describe('installation workflow: uninstall, operator actions and reconciliation', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  /** Talkdesk does not answer the approval of `concludes` (until `answerAfter` failures, when given). */
  const failingApproval = (concludes: string, answerAfter = Infinity) => {
    let failures = 0;
    return new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes === concludes && failures++ < answerAfter) throw unavailable();
      return { state: i.state === 'approve' ? 'completed' : 'rejected' };
    });
  };
  const retrying = (phase: InstallationPhase) => (v: { phase: string; lastError?: string }) =>
    v.phase === phase && v.lastError !== undefined;

  describe('an uninstall', () => {
    it('interrupts a running provisioning, waits until it has stopped, undoes it, then uninstalls', async () => {
      const provisioning = blockingUntilCancelled();
      let callsWhenStopped = -1;
      void provisioning.stopped.then(() => (callsWhenStopped = t.stubs.calls.length));
      const t = await start(new ActivityStubs().on('provisionAccount', provisioning.stub));
      await t.send(t.event('app.installed'));
      await provisioning.started;
      await t.send(t.event('app.uninstalled'));
      const done = await t.result();
      assert.equal(done.phase, 'uninstalled');
      assert.deepEqual(phases(done), ['installing', 'uninstalling']);
      const names = t.stubs.names();
      assert.ok(callsWhenStopped > 0, 'the provisioning activity was cancelled');
      assert.ok(names.indexOf('undoProvisioning') >= callsWhenStopped, 'the undo began only after the provisioning stopped');
      assert.ok(names.indexOf('undoProvisioning') < names.indexOf('deprovisionAccount'));
      assert.deepEqual(t.stubs.stateCalls(), ['approve:uninstall'], 'never approved; the uninstall acknowledged');
    });

    it('interrupts an update waiting for its approval and reverts it before deprovisioning', async () => {
      const t = await start(failingApproval('update'));
      await t.send(t.event('app.installed'));
      await t.settled('active');
      await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
      await t.until('the update to be retrying its approval', retrying('updating'));
      await t.send(t.event('app.uninstalled'));
      const done = await t.result();
      assert.equal(done.phase, 'uninstalled');
      assert.deepEqual(phases(done), ['installing', 'updating', 'uninstalling']);
      const names = t.stubs.names();
      assert.deepEqual(t.stubs.of('revertUpdate')[0]?.applied, { usersAdded: ['u1'], usersDeactivated: [] });
      assert.ok(names.indexOf('revertUpdate') < names.indexOf('deprovisionAccount'));
      assert.ok(!t.stubs.stateCalls().includes('reject'));
      assert.equal(t.stubs.stateCalls().at(-1), 'approve:uninstall');
    });

    it('interrupts an update while it is applied and reverts what its first attempt planned (no result to go by)', async () => {
      const applying = blockingUntilCancelled();
      const t = await start(new ActivityStubs().on('applyUpdate', applying.stub));
      await t.send(t.event('app.installed'));
      await t.settled('active');
      const update = t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } });
      await t.send(update);
      await applying.started;
      await t.send(t.event('app.uninstalled'));
      const done = await t.result();
      assert.equal(done.phase, 'uninstalled');
      // The activity reads the plan kept under the update's key: the event identifies it.
      assert.deepEqual(t.stubs.of('revertUpdate'), [
        { installationId: t.installationId, accountId: 'acct-1', eventId: update.eventId, occurredAt: update.createdAt },
      ]);
      const names = t.stubs.names();
      assert.ok(names.indexOf('revertUpdate') < names.indexOf('deprovisionAccount'));
    });
  });

  describe('an uninstall while an install ends (patch queued-uninstall-keeps-credentials)', () => {
    it("stops a failed install's rejection retrying; the credentials stay for the uninstall's acknowledgement, destroyed after it", async () => {
      let rejections = 0;
      const stubs = new ActivityStubs()
        .on('provisionAccount', async () => {
          throw refused('the partner refused the account');
        })
        .on('setInstallationState', async (i) => {
          if (i.state === 'reject') {
            rejections += 1;
            throw unavailable();
          }
          return { state: 'completed' };
        });
      const t = await start(stubs);
      await t.send(t.event('app.installed'));
      await t.until('the rejection retrying', () => rejections >= 2);
      await t.send(t.event('app.uninstalled'));
      const done = await t.result();
      assert.equal(done.phase, 'uninstalled');
      assert.equal(done.history.at(-1)?.result, 'acknowledged');
      const names = t.stubs.names();
      assert.deepEqual(t.stubs.stateCalls().at(-1), 'approve:uninstall');
      assert.equal(t.stubs.of('destroyCredentials').length, 1, names.join(', '));
      assert.ok(names.lastIndexOf('setInstallationState') < names.indexOf('destroyCredentials'), names.join(', '));
    });
  });

  describe('the operator reject update', () => {
    it('rejects an install at Talkdesk, undoes it and ends the workflow', async () => {
      const t = await start(failingApproval('install'));
      await t.send(t.event('app.installed'));
      await t.until('the install to be retrying its approval', retrying('installing'));
      const accepted = await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'customer asked' }] });
      assert.deepEqual(
        accepted.operatorActions.map((a) => [a.action, a.reason]),
        [['reject', 'customer asked']],
      );
      const done = await t.result();
      assert.equal(done.phase, 'rejected');
      const reject = t.stubs.of('setInstallationState').find((c) => c.state === 'reject');
      assert.equal(reject?.reason, 'Rejected by operator: customer asked');
      // Its approval sent (retrying), the interrupted install undoes nothing yet: the reject reads Talkdesk first,
      // then undoes (patch operator-reject-reads-talkdesk-first; before it, the interrupted install undid too). Talkdesk
      // failing every call here, the reject's seven days end unanswered: one last read, not concluded, then the undo
      // (patch operator-reject-of-install-reads-at-deadline).
      const withoutStateCalls = t.stubs.names().filter((n) => n !== 'setInstallationState');
      assert.deepEqual(withoutStateCalls.slice(-6), [
        'provisionAccount',
        'recordInstallation',
        'readInstallationState',
        'undoProvisioning',
        'destroyCredentials',
        'recordInstallation',
      ]);
      assert.ok(t.stubs.names().lastIndexOf('setInstallationState') < t.stubs.names().lastIndexOf('undoProvisioning'), 'rejected first');
      assert.equal(t.stubs.of('recordInstallation').at(-1)?.phase, 'rejected');
    });

    it('is refused without a reason, or once an uninstall began; nothing is recorded', async () => {
      const t = await start(failingApproval('uninstall'));
      assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: '  ' }] })), /reason of 1 to 500 characters/);
      assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'x'.repeat(501) }] })), /1 to 500/);
      assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'bad\u0007bell' }] })), /control characters/);
      await t.send(t.event('app.installed'));
      await t.settled('active');
      await t.send(t.event('app.uninstalled'));
      await t.until('the uninstall to be retrying its acknowledgement', retrying('uninstalling'));
      assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'too late' }] })), /already uninstalling/);
      const v = await t.state();
      assert.deepEqual(v.operatorActions, []);
      assert.equal(v.phase, 'uninstalling');
      assert.ok(!t.stubs.stateCalls().includes('reject'));
    });
  });

  describe('the operator retryNow update', () => {
    it('cuts a backoff short: the approval is retried at once', async () => {
      // The first backoff is an hour: only retryNow can bring the second attempt within the test.
      const t = await start(failingApproval('install', 1), { retryInitialMs: 3_600_000 });
      await t.send(t.event('app.installed'));
      await t.until('the install to be in its backoff', retrying('installing'));
      const accepted = await t.handle.executeUpdate(retryNowUpdate, { args: [{ reason: 'Talkdesk is back' }] });
      assert.deepEqual(
        accepted.operatorActions.map((a) => a.action),
        ['retryNow'],
      );
      const v = await t.settled('active');
      assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:install']);
      assert.equal(v.lastError, undefined);
      assert.deepEqual(longTimersFired(await t.handle.fetchHistory(), 3_600_000), [], 'the hour of backoff did not pass');
    });

    it('is refused when no phase is running', async () => {
      const t = await start();
      await t.send(t.event('app.installed'));
      await t.settled('active');
      assert.match(await refusal(t.handle.executeUpdate(retryNowUpdate, { args: [{}] })), /Nothing to retry/);
      assert.deepEqual((await t.state()).operatorActions, []);
    });

    it('refuses a malformed request (not an object, a reason not a string, too long), not retryable, nothing recorded', async () => {
      const t = await start(failingApproval('install', 5), { retryInitialMs: 3_600_000 });
      await t.send(t.event('app.installed'));
      await t.until('the install to be in its backoff', retrying('installing'));
      const bad: unknown[] = ['str', null, [], { reason: 5 }, { reason: '' }, { reason: 'x'.repeat(501) }];
      for (const input of bad) {
        const err = await t.handle.executeUpdate(retryNowUpdate, { args: [input as { reason?: string }] }).then(
          () => assert.fail(`accepted ${JSON.stringify(input)}`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
        const cause = err.cause as ApplicationFailure;
        assert.ok(cause instanceof ApplicationFailure, String(cause));
        assert.equal(cause.type, OPERATOR_REQUEST_REFUSED);
        assert.equal(cause.nonRetryable, true, 'the same request would be refused again');
        assert.match(cause.message, /retryNow/);
      }
      assert.deepEqual((await t.state()).operatorActions, []);
      // A well-formed one is taken, with or without a reason; each while the approval backs off (one taken during an
      // attempt makes the next follow at once, and the test must not end with an attempt in flight: terminated then,
      // the time-skipping server keeps time locked for the tests that follow).
      const backingOffAfter = (calls: number) =>
        eventually('the approval backing off again', async () => {
          const { raw } = await t.handle.describe();
          return t.stubs.stateCalls().length >= calls && !raw.pendingActivities?.length && !raw.pendingWorkflowTask ? true : undefined;
        });
      await t.handle.executeUpdate(retryNowUpdate, { args: [{}] });
      await backingOffAfter(2);
      await t.handle.executeUpdate(retryNowUpdate, { args: [{ reason: 'Talkdesk is back' }] });
      await backingOffAfter(3);
      assert.deepEqual(
        (await t.state()).operatorActions.map((a) => a.reason),
        [undefined, 'Talkdesk is back'],
      );
    });
  });

  describe('the reconcile signal', () => {
    const ended: [ReconcileAction['talkdeskState'], InstallationPhase][] = [
      ['revoked', 'uninstalled'],
      ['rejected', 'rejected'],
      ['timeout', 'expired'],
    ];
    for (const [talkdeskState, phase] of ended) {
      it(`deprovision (${talkdeskState}) ends an active installation as ${phase}`, async () => {
        const t = await start();
        await t.send(t.event('app.installed'));
        await t.settled('active');
        await t.handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState } as ReconcileAction);
        const done = await t.result();
        assert.equal(done.phase, phase);
        assert.equal(done.activeClientId, undefined);
        assert.deepEqual(t.stubs.names().slice(-3), ['deprovisionAccount', 'destroyCredentials', 'recordInstallation']);
        assert.equal(t.stubs.of('recordInstallation').at(-1)?.phase, phase);
        assert.deepEqual(t.stubs.stateCalls(), ['approve:install'], 'Talkdesk already ended it: no call');
      });
    }

    it('a malformed payload (an operator typo, an unknown state) changes nothing (patch reconcile-ignores-malformed); before, it deprovisioned', async () => {
      const t = await start();
      await t.send(t.event('app.installed'));
      await t.settled('active');
      // `undefined` too: a signal sent with no payload (its warning must not throw in the handler).
      for (const bad of [
        { action: 'markactive', talkdeskState: 'completed' },
        { action: 'deprovision', talkdeskState: 'gone' },
        { action: 'deprovision', talkdeskState: 'revoked', endedAt: 2026 },
        {},
        undefined,
      ])
        await t.handle.signal(reconcileSignal, bad as unknown as ReconcileAction);
      // An update after them (signals are handled in order): applied on the installation still active.
      await t.send(t.event('app.updated', { atSeconds: 5 }));
      await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.result === 'approved');
      for (const teardown of ['deprovisionAccount', 'destroyCredentials'] as const)
        assert.ok(!t.stubs.names().includes(teardown), `no ${teardown}`);
    });
  });
});
