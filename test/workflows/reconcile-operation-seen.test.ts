import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { reconcileSignal, retryNowUpdate, type LifecycleEvent, type ReconcileAction } from '../../workflows/definitions';
import type { InstallationState } from '../../workflows/state';
import { approvedEntry, midPhaseBase } from './carried-state';
import { RECONCILE_ACTION_OF_OPERATION_SEEN } from '../../workflows/installation/handlers';
import { ActivityStubs, clientIdFor, phases, unavailable, useInstallationUnderTest, type InstallationUnderTest } from './harness';

/**
 * Reconciliation judges drift on the record it read, then signals. A workflow that has begun another operation since
 * (a reinstall, a newer update) must not take that action for the operation under way (patch
 * reconcile-action-of-operation-seen): the action names the operation it was judged on (`seen`).
 */
describe('installation workflow: a reconcile action judged on another operation', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  /** Talkdesk does not answer the approvals of `concludes` after the first `answered`, until `answering()`. */
  const approvalsHeldAfter = (concludes: 'install' | 'update', answered: number) => {
    let seen = 0;
    let held = true;
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes === concludes && i.state === 'approve' && ++seen > answered && held) throw unavailable();
      return { state: i.state === 'approve' ? 'completed' : 'rejected' };
    });
    return { stubs, answering: () => (held = false) };
  };

  /** The held call retried at once; refused only when its backoff's own retry got in first (nothing left to retry). */
  const retryNowUnlessDone = (t: InstallationUnderTest) =>
    t.handle.executeUpdate(retryNowUpdate, { args: [{ reason: 'Talkdesk is back' }] }).catch((err: unknown) => {
      if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    });

  /** Sends `action`, then a duplicate of `marker`: once it shows as ignored, the action (signalled before) was handled. */
  const handled = async (t: InstallationUnderTest, action: ReconcileAction, marker: LifecycleEvent) => {
    await t.handle.signal(reconcileSignal, action);
    await t.send(marker);
    await t.until('the signals to be handled', (v) => v.ignoredEvents.some((e) => e.eventId === marker.eventId));
  };

  /** Active, then a second update whose approval Talkdesk holds: the first update ended approved. */
  async function secondUpdateRetrying() {
    const held = approvalsHeldAfter('update', 1);
    const t = await start(held.stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const first = t.event('app.updated');
    await t.send(first);
    await t.settled('active', (v) => v.history.at(-1)?.result === 'approved');
    const second = t.event('app.updated');
    await t.send(second);
    await t.until('the second update to be retrying its approval', (v) => v.phase === 'updating' && v.lastError !== undefined);
    return { t, first, second, answering: held.answering };
  }

  it('an endUpdate judged on an earlier update leaves the newer update under way, which is approved', async () => {
    const { t, first, second, answering } = await secondUpdateRetrying();
    await handled(t, { action: 'endUpdate', talkdeskState: 'timeout', seen: { phase: 'updating', phaseEventId: first.eventId } }, second);
    answering();
    await retryNowUnlessDone(t);
    const v = await t.settled('active', (s) => s.history.at(-1)?.eventId === second.eventId && s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'approved', "the newer update is not ended by the earlier one's timeout");
    assert.ok(!t.stubs.names().includes('revertUpdate'), 'nothing reverted');
    assert.ok((await t.patches()).includes(RECONCILE_ACTION_OF_OPERATION_SEEN));
  });

  it('an endUpdate judged on the update under way ends it (positive control)', async () => {
    const { t, second } = await secondUpdateRetrying();
    await handled(t, { action: 'endUpdate', talkdeskState: 'timeout', seen: { phase: 'updating', phaseEventId: second.eventId } }, second);
    const v = await t.settled('active', (s) => s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.eventId, second.eventId);
    assert.notEqual(v.history.at(-1)?.result, 'approved');
    assert.ok(t.stubs.names().includes('revertUpdate'), 'the timed-out update is reverted');
    // Asked for every action naming what it was judged on, whatever the run's state (docs/versioning.md).
    assert.ok((await t.patches()).includes(RECONCILE_ACTION_OF_OPERATION_SEEN));
  });

  /** Active, uninstalled and reinstalled at once: the reinstall's approval held by Talkdesk. */
  async function reinstallRetrying() {
    const held = approvalsHeldAfter('install', 1);
    const t = await start(held.stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const reinstall = t.event('app.installed', { atSeconds: 8 });
    await t.send(t.event('app.uninstalled', { atSeconds: 5 }), reinstall);
    await t.until('the reinstall to be retrying its approval', (v) => v.phase === 'installing' && v.lastError !== undefined);
    return { t, reinstall, answering: held.answering };
  }

  it("a deprovision judged on the earlier life's record (active, Talkdesk revoked) spares the reinstall under way", async () => {
    const { t, reinstall, answering } = await reinstallRetrying();
    await handled(t, { action: 'deprovision', talkdeskState: 'revoked', seen: { phase: 'active' } }, reinstall);
    answering();
    await retryNowUnlessDone(t);
    const v = await t.settled('active');
    assert.equal(v.activeClientId, clientIdFor(reinstall.eventId), 'the reinstall is live with its credentials');
    assert.deepEqual(phases(v), ['installing', 'uninstalling', 'installing']);
    assert.equal(t.stubs.of('deprovisionAccount').length, 1, "only the uninstall's");
  });

  it('a deprovision judged on the reinstall itself deprovisions it (positive control)', async () => {
    const { t, reinstall } = await reinstallRetrying();
    const seen = { phase: 'installing' as const, phaseEventId: reinstall.eventId };
    await t.handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked', seen });
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.equal(done.history.at(-1)?.result, 'deprovisioned');
    assert.equal(done.activeClientId, undefined);
  });

  /** The state a run handed over when cut (continue-as-new) while the second update's approval backed off. */
  const cutDuringSecondUpdate = (t: InstallationUnderTest): InstallationState => {
    const install = t.event('app.installed', { id: 'install-1', atSeconds: -3_600 });
    const first = t.event('app.updated', { id: 'update-1', atSeconds: -120 });
    const second = t.event('app.updated', { id: 'update-2', atSeconds: -60 });
    const step = 'approve the update at Talkdesk';
    return {
      ...midPhaseBase(t, install, 'updating'),
      activeClientId: clientIdFor(install.eventId),
      history: [
        approvedEntry(install, 'installing'),
        approvedEntry(first, 'updating'),
        { phase: 'updating', eventId: second.eventId, startedAt: second.createdAt },
      ],
      currentStep: step,
      seenEventIds: [install.eventId, first.eventId, second.eventId],
      handledEventIds: [install.eventId, first.eventId],
      lastAppliedAt: second.createdAt,
      appliedAt: { install: install.createdAt, update: second.createdAt },
      appliedEvents: 2,
      resume: { event: second, late: false, step, attempt: 1, retryAt: new Date(t.t0 + 1_000).toISOString() },
    };
  };

  /** A run continued as new mid-update, reconciliation's endUpdate (naming `judgedOn`) signalled in its first task. */
  const firstTaskEndUpdate = (judgedOn: string) =>
    start(
      new ActivityStubs(),
      {},
      {
        carried: cutDuringSecondUpdate,
        first: (u) => u.event('app.updated', { id: 'update-2' }),
        reconcile: () => ({ action: 'endUpdate', talkdeskState: 'timeout', seen: { phase: 'updating', phaseEventId: judgedOn } }),
      },
    );
  const carriedEnded = (t: InstallationUnderTest) =>
    t.settled('active', (s) => s.history.at(-1)?.eventId === 'update-2' && s.history.at(-1)?.endedAt !== undefined);

  it('in the first task of a run continued as new mid-update, an endUpdate judged on the earlier update leaves the carried one', async () => {
    const t = await firstTaskEndUpdate('update-1');
    const v = await carriedEnded(t);
    assert.equal(v.history.at(-1)?.result, 'approved', 'the carried update goes on and is approved');
    assert.ok(!t.stubs.names().includes('revertUpdate'), 'nothing reverted');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:update']);
    // The handler ran (its marker is asked for every action naming what it was judged on).
    assert.ok((await t.patches()).includes(RECONCILE_ACTION_OF_OPERATION_SEEN));
  });

  it('in that first task, an endUpdate judged on the carried update ends it (positive control)', async () => {
    const t = await firstTaskEndUpdate('update-2');
    const v = await carriedEnded(t);
    assert.notEqual(v.history.at(-1)?.result, 'approved');
    assert.ok(t.stubs.names().includes('revertUpdate'), 'the timed-out update is reverted');
  });
});
