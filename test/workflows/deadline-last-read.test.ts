import assert from 'node:assert/strict';
import { decideStateCall } from '../../src/talkdesk/concluded';
import { rejectUpdate } from '../../workflows/definitions';
import { ActivityStubs, DAY, deferred, refusal, unavailable, useInstallationUnderTest } from './harness';

const HOUR = 3_600_000;
const summaryOf = (data: Uint8Array | null | undefined) => Buffer.from(data ?? []).toString('utf8');

/**
 * Patch expired-phase-reads-talkdesk-last: an install or update whose approval may have landed (an attempt's
 * answer lost, and every retry's read failing since) reads Talkdesk once more at its deadline, and is kept when
 * Talkdesk shows it concluded. Talkdesk is down for the week here and answers the last read only.
 */
describe('installation workflow: a last read at the deadline', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  /** Every state call of `concludes` fails (its answer lost); the last read finds Talkdesk showing `shows`. */
  const downUntilTheLastRead = (concludes: string, shows: string) =>
    new ActivityStubs()
      .on('setInstallationState', async (i) => {
        if (i.concludes === concludes) throw unavailable();
        return { state: 'completed' };
      })
      .on('readInstallationState', async () =>
        shows === 'completed' ? { state: shows, alreadyConcluded: true } : { state: shows, notSent: true },
      );
  const reads = (t: { stubs: ActivityStubs }) => t.stubs.of('readInstallationState');

  it('an install Talkdesk shows concluded at its deadline is kept: active, nothing undone', async () => {
    const t = await start(downUntilTheLastRead('install', 'completed'));
    const install = t.event('app.installed');
    await t.send(install);
    await t.until('the install to be retrying its approval', (v) => v.phase === 'installing' && v.lastError !== undefined);
    await env().sleep('8 days');
    const v = await t.settled('active');
    const last = v.history.at(-1);
    assert.deepEqual([last?.phase, last?.result], ['installing', 'approved']);
    assert.match(last?.detail ?? '', /Talkdesk shows the install concluded: its approval landed, the answer lost/);
    const age = Date.parse(last?.endedAt ?? '') - Date.parse(install.createdAt);
    assert.ok(age >= 7 * DAY - HOUR && age <= 7 * DAY - HOUR / 2, `read within the margin's first half (${age} ms)`);
    assert.deepEqual(
      reads(t).map((r) => r.concludes),
      ['install'],
      'read once, answered',
    );
    assert.ok(
      t.stubs.stateCalls().every((c) => c === 'approve:install'),
      'nothing but the approval sent',
    );
    assert.deepEqual(t.stubs.of('undoProvisioning'), []);
    assert.deepEqual(t.stubs.of('destroyCredentials'), []);
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.phase, 'active');
    assert.ok(v.activeClientId, 'its credentials kept');
    const timers = (await t.handle.fetchHistory()).events?.flatMap((e) =>
      e.timerStartedEventAttributes ? [summaryOf(e.userMetadata?.summary?.data)] : [],
    );
    assert.ok(
      timers?.some((s) => /^"deadline .+ \(the last read's half of the margin\)"$/.test(s)),
      `the read's timer says what it waits for (${timers?.join(', ')})`,
    );
  });

  it('an install Talkdesk still shows open at its deadline is undone as before, nothing sent', async () => {
    const t = await start(downUntilTheLastRead('install', 'installing'));
    await t.send(t.event('app.installed'));
    const done = await t.result();
    assert.equal(done.phase, 'expired');
    assert.deepEqual([done.history.at(-1)?.phase, done.history.at(-1)?.result], ['installing', 'expired']);
    assert.equal(reads(t).length, 1);
    assert.ok(!t.stubs.stateCalls().includes('reject'), 'an expiry sends no rejection');
    assert.deepEqual(t.stubs.names().slice(-3), ['undoProvisioning', 'destroyCredentials', 'recordInstallation']);
  });

  it("an operator's reject during the last read is refused: the read decides, and keeps the install Talkdesk shows approved", async () => {
    const released = deferred();
    let reads = 0;
    const stubs = new ActivityStubs()
      .on('setInstallationState', async () => Promise.reject(unavailable()))
      .on('readInstallationState', async () => {
        if ((reads += 1) === 1) await released.promise; // held (its heartbeat may time out: the next read answers)
        return { state: 'completed', alreadyConcluded: true };
      });
    const t = await start(stubs);
    // Dated so that its deadline (seven days less the hour of margin) comes six seconds into the test, in real time.
    await t.send(t.event('app.installed', { atSeconds: -(7 * 86_400 - 3_600) + 6 }));
    await t.until('the last read to be running', () => reads > 0, 30_000);
    const why = await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'changed my mind' }] }));
    assert.match(why, /Cannot reject: the phase reached its seven days; a last read of Talkdesk decides/);
    released.resolve();
    const v = await t.settled('active');
    assert.equal(v.history.at(-1)?.result, 'approved');
    assert.deepEqual(v.operatorActions, [], 'the refused reject left no trace');
    assert.deepEqual(t.stubs.of('undoProvisioning'), []);
  });

  it('an install whose approval never began is undone without a read', async () => {
    const t = await start(new ActivityStubs().on('provisionAccount', async () => Promise.reject(unavailable())));
    await t.send(t.event('app.installed'));
    const done = await t.result();
    assert.equal(done.phase, 'expired');
    assert.deepEqual(t.stubs.stateCalls(), []);
    assert.deepEqual(reads(t), [], 'nothing could have landed: nothing read');
  });

  it('a phase re-entered after continue-as-new reads at its deadline though this run sent nothing (an earlier run may have)', async () => {
    const stubs = new ActivityStubs().on('provisionAccount', async () => Promise.reject(unavailable()));
    const t = await start(stubs, { maxHistoryEventsPerRun: 80 });
    await t.send(t.event('app.installed'));
    const done = await t.result();
    assert.equal(done.phase, 'expired');
    assert.deepEqual(t.stubs.stateCalls(), [], 'no approval was ever sent');
    assert.deepEqual(
      reads(t).map((r) => r.concludes),
      ['install'],
      'read once: Talkdesk shows it open, so undone',
    );
    const first = (await t.handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
    assert.notEqual(first?.firstExecutionRunId, first?.originalExecutionRunId, 'the run that expired was continued as new');
  });

  it("a phase reconciliation resumed (its workflow lost) reads at its deadline though this run sent nothing: the lost run's approval landed", async () => {
    const stubs = new ActivityStubs()
      .on('loadInstallation', async () => ({
        phase: 'installing',
        appId: 'app-1',
        accountId: 'acct-1',
        activeClientId: 'client-lost-run',
        links: { root: 'https://api.talkdesk.test' },
      }))
      .on('provisionAccount', async () => Promise.reject(unavailable()))
      .on('readInstallationState', async () => ({ state: 'completed', alreadyConcluded: true }));
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.until('the install to be retrying its provisioning', (v) => v.phase === 'installing' && v.lastError !== undefined);
    await env().sleep('8 days');
    const v = await t.settled('active');
    assert.deepEqual(t.stubs.stateCalls(), [], 'this run never began a state call');
    assert.deepEqual(
      reads(t).map((r) => r.concludes),
      ['install'],
      'read once: the lost run may have sent the approval',
    );
    assert.equal(v.history.at(-1)?.result, 'approved');
    assert.ok(v.activeClientId, 'its credentials kept');
    assert.deepEqual(t.stubs.of('undoProvisioning'), []);
    assert.deepEqual(t.stubs.of('destroyCredentials'), []);
  });

  it('an update Talkdesk shows concluded at its deadline is kept, not reverted, with its subscription', async () => {
    const t = await start(downUntilTheLastRead('update', 'completed'));
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const subscription = { pro: { name: 'Pro', licenses: 5 } };
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] }, subscription } }));
    await t.until('the update to be retrying its approval', (v) => v.phase === 'updating' && v.lastError !== undefined);
    await env().sleep('8 days');
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.deepEqual(
      [v.history.at(-1)?.result, v.history.at(-1)?.detail],
      ['approved', 'Talkdesk shows the update concluded: its approval landed, the answer lost'],
    );
    assert.deepEqual(t.stubs.of('revertUpdate'), []);
    assert.deepEqual(
      reads(t).map((r) => r.concludes),
      ['update'],
    );
    assert.deepEqual(v.subscription, subscription);
  });

  it('an update Talkdesk still shows open at its deadline is reverted as before', async () => {
    const t = await start(downUntilTheLastRead('update', 'pending'));
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    await t.until('the update to be retrying its approval', (v) => v.phase === 'updating' && v.lastError !== undefined);
    await env().sleep('8 days');
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'expired');
    assert.equal(t.stubs.of('revertUpdate').length, 1);
    assert.equal(reads(t).length, 1);
  });

  it('an update still pending at its deadline with a newer update delivered behind it is kept: that pending is the newer one', async () => {
    // The read as the activity judges it (src/talkdesk/concluded.ts): its input `late` decides what `pending` means.
    const stubs = downUntilTheLastRead('update', 'pending').on('readInstallationState', async (i) =>
      decideStateCall({ state: 'approve', concludes: 'update', late: i.late === true }, { state: 'pending' }) === 'concluded'
        ? { state: 'pending', alreadyConcluded: true }
        : { state: 'pending', notSent: true },
    );
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const first = t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } });
    await t.send(first);
    await t.until('the update to be retrying its approval', (v) => v.phase === 'updating' && v.lastError !== undefined);
    const newer = t.event('app.updated', { facts: { users: { adding: ['u2'], removing: [] } } });
    await t.send(newer);
    await t.until('the newer update queued', (v) => v.pendingEvents.some((p) => p.endsWith(newer.eventId)));
    await env().sleep('8 days');
    const v = await t.until('the first update ended', (s) => s.history.some((h) => h.eventId === first.eventId && h.endedAt));
    const entry = v.history.find((h) => h.eventId === first.eventId);
    assert.deepEqual(
      [entry?.result, entry?.detail],
      ['approved', 'Talkdesk shows the update concluded: its approval landed, the answer lost'],
    );
    assert.equal(reads(t)[0]?.late, true);
    assert.ok(!t.stubs.of('revertUpdate').some((r) => r.eventId === first.eventId), 'not reverted');
  });

  /**
   * Patch operator-reject-of-update-reads-at-deadline: an operator's reject of an update whose approval may have landed
   * reads Talkdesk first, within the update's deadline; Talkdesk down until then, it reads once more past it.
   */
  for (const [shows, kept] of [
    ['completed', true],
    ['pending', false],
  ] as const) {
    it(`an operator's reject whose own run reaches the update's deadline unanswered reads once more: ${shows}, ${kept ? 'kept' : 'reverted'}`, async () => {
      const t = await start(downUntilTheLastRead('update', shows));
      await t.send(t.event('app.installed'));
      await t.settled('active');
      await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
      await t.until('the update to be retrying its approval', (v) => v.phase === 'updating' && v.lastError !== undefined);
      await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'not wanted' }] });
      await env().sleep('8 days');
      const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'active' && s.history.at(-1)?.endedAt !== undefined);
      const rejects = t.stubs.of('setInstallationState').filter((c) => c.state === 'reject');
      assert.ok(rejects.length > 1 && rejects.every((c) => c.checkFirst === true), 'the reject read first, unanswered until the deadline');
      assert.deepEqual(
        reads(t).map((r) => r.concludes),
        ['update'],
        'one last read, past the deadline',
      );
      if (kept) {
        assert.deepEqual(
          [v.history.at(-1)?.result, v.history.at(-1)?.detail],
          ['not-open', 'Talkdesk shows the update completed (read at its deadline)'],
        );
        assert.deepEqual(t.stubs.of('revertUpdate'), [], 'not reverted: Talkdesk shows it completed');
      } else {
        assert.equal(v.history.at(-1)?.result, 'rejected');
        assert.equal(t.stubs.of('revertUpdate').length, 1);
      }
    });
  }

  // Patch operator-reject-of-install-reads-at-deadline: the same for an install's reject, whose own seven days pass.
  for (const [shows, kept] of [
    ['completed', true],
    ['installing', false],
  ] as const) {
    it(`an operator's reject of an install whose own seven days pass unanswered reads once more: ${shows}, ${kept ? 'kept' : 'undone'}`, async () => {
      const t = await start(downUntilTheLastRead('install', shows));
      await t.send(t.event('app.installed'));
      await t.until('the install to be retrying its approval', (v) => v.phase === 'installing' && v.lastError !== undefined);
      await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'not wanted' }] });
      await env().sleep('8 days');
      const v = await t.settled(kept ? 'active' : 'rejected', (s) => s.history.at(-1)?.endedAt !== undefined);
      assert.deepEqual(
        reads(t).map((r) => r.concludes),
        ['install'],
        'one last read, past the deadline',
      );
      if (kept) {
        assert.deepEqual(
          [v.history.at(-1)?.result, v.history.at(-1)?.detail],
          ['not-open', 'Talkdesk shows the install concluded (read at the deadline)'],
        );
        assert.deepEqual(t.stubs.of('undoProvisioning'), [], 'nothing undone: Talkdesk shows it installed');
      } else {
        assert.equal(v.history.at(-1)?.result, 'rejected');
        assert.equal(t.stubs.of('undoProvisioning').length, 1);
      }
    });
  }
});
