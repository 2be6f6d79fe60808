import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { rejectUpdate } from '../../workflows/definitions';
import { ActivityStubs, DAY, deferred, refusal, unavailable, useInstallationUnderTest } from './harness';

/** Approvals tied to their operation (docs/lifecycle.md, "State calls"). */
describe('installation workflow: state calls tied to their operation', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  /** A run started from the stored record of a lost run (reconciliation's resume): in `phase`, with `extra` fields. */
  const resumedFrom = (phase: string, extra: Record<string, unknown> = {}) =>
    new ActivityStubs().on('loadInstallation', async () => ({
      phase,
      ...extra,
      appId: 'app-1',
      accountId: 'acct-1',
      activeClientId: 'client-lost-run',
      links: { root: 'https://api.talkdesk.test' },
    }));

  it('an approval Talkdesk shows no open install for is not sent: recorded, undone, nothing rejected', async () => {
    // The activity read Talkdesk (a 409 or a retry) and found the install timed out there.
    const stubs = new ActivityStubs().on('setInstallationState', async (i) =>
      i.concludes === 'install' && i.state === 'approve'
        ? { state: 'timeout', notSent: true, reason: 'customer took too long' }
        : { state: 'rejected' },
    );
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    const done = await t.result();
    assert.equal(done.phase, 'expired', 'what Talkdesk showed: timed out there');
    const last = done.history.at(-1);
    assert.deepEqual([last?.result, last?.detail], ['not-open', 'Talkdesk shows timeout (customer took too long)']);
    assert.match(done.lastError ?? '', /not sent: Talkdesk shows timeout/);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install'], 'no rejection sent for an operation Talkdesk does not show open');
    assert.ok(t.stubs.names().includes('undoProvisioning'));
  });

  it('an install Talkdesk shows revoked ends uninstalled naming no set: its own was destroyed (patches-decided-at-start-14)', async () => {
    const stubs = new ActivityStubs().on('setInstallationState', async () => ({ state: 'revoked', notSent: true }));
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    const done = await t.result();
    assert.deepEqual([done.phase, done.history.at(-1)?.result], ['uninstalled', 'not-open']);
    assert.ok(t.stubs.names().includes('destroyCredentials'));
    // Before, the state and the record still named the destroyed set: the uninstall delivered next (a short run from
    // the record) tried to acknowledge with it and ended failed, "a new app.installed event is needed".
    assert.equal(done.activeClientId, undefined);
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.activeClientId, undefined);
  });

  it('an update whose approval is not sent keeps the account as it was and stays active', async () => {
    const stubs = new ActivityStubs().on('setInstallationState', async (i) =>
      i.concludes === 'update' ? { state: 'installing', notSent: true } : { state: 'completed' },
    );
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.deepEqual([v.history.at(-1)?.result, v.history.at(-1)?.detail], ['not-open', 'Talkdesk shows installing']);
    assert.equal(t.stubs.of('revertUpdate').length, 1);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:update']);
  });

  it("an uninstall reads Talkdesk before its first acknowledgement: the update's approval may have concluded it", async () => {
    const t = await start();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.uninstalled'));
    await t.result();
    const calls = t.stubs.of('setInstallationState');
    assert.deepEqual(
      calls.map((c) => [c.concludes, c.checkFirst]),
      [
        ['install', false],
        ['uninstall', true],
      ],
    );
  });

  it('a phase reconciliation resumed (its workflow lost mid-phase) reads Talkdesk before its first state call', async () => {
    // The lost run may have sent the approval, and Talkdesk opened an update since: a blind approval would conclude it.
    const t = await start(resumedFrom('updating'));
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    await t.settled('active', (v) => v.history.at(-1)?.result === 'approved');
    await t.send(t.event('app.updated', { atSeconds: 60, facts: { users: { adding: ['u2'], removing: [] } } }));
    await t.settled('active', (v) => v.appliedEvents === 2);
    assert.deepEqual(
      t.stubs.of('setInstallationState').map((c) => [c.concludes, c.checkFirst]),
      [
        ['update', true],
        ['update', true],
      ],
      'every state call of the resumed run reads first (until it continues as new: a read more per state call)',
    );
  });

  it("an uninstall a lost run had begun may have been acknowledged: the resumed run's first attempt says so (resent); a fresh one does not", async () => {
    const acks = async (phase: string) => {
      const t = await start(resumedFrom(phase));
      await t.send(t.event('app.uninstalled'));
      await t.result();
      return t.stubs.of('setInstallationState').map((c) => [c.concludes, c.resent]);
    };
    assert.deepEqual(await acks('uninstalling'), [['uninstall', true]]);
    assert.deepEqual(await acks('installing'), [['uninstall', false]], 'a lost install: no acknowledgement was ever sent');
  });

  it('a lost uninstall its record names (phaseEventId) is the only one judged as sent again: not another uninstall of the run', async () => {
    const acks = async (applied: string) => {
      const t = await start(resumedFrom('uninstalling', { phaseEventId: 'uninstall-lost' }));
      await t.send(t.event('app.uninstalled', { id: applied }));
      await t.result();
      return t.stubs.of('setInstallationState').map((c) => [c.concludes, c.resent]);
    };
    assert.deepEqual(await acks('uninstall-lost'), [['uninstall', true]]);
    assert.deepEqual(
      await acks('uninstall-other'),
      [['uninstall', false]],
      'another uninstall (a later life) was never begun by the lost run',
    );
  });

  it('the reject update refuses an installation no install has reached yet (a trial waiting for it): nothing to reject', async () => {
    const t = await start();
    await t.send(t.event('app.trial_started', { facts: { expires_at: '2027-01-01T00:00:00Z' } }));
    await t.until('the trial queued, waiting for its install', (v) => v.pendingEvents.length === 1);
    assert.match(
      await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'changed my mind' }] })),
      /no install has arrived yet/,
    );
    const v = await t.state();
    assert.deepEqual([v.phase, v.operatorActions], ['new', []]);
    // The install arriving next is applied as any other (its own reject would be taken).
    await t.send(t.event('app.installed', { atSeconds: -5 }));
    await t.settled('active');
  });

  it('the reject update refuses an active installation: Talkdesk has nothing to reject', async () => {
    const t = await start();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'changed my mind' }] })), /installation is active/);
    const v = await t.state();
    assert.equal(v.phase, 'active');
    assert.deepEqual(v.operatorActions, []);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install']);
    assert.ok(!t.stubs.names().includes('undoProvisioning'));
  });

  it('a phase ends one hour (phaseMarginMs) before Talkdesk seven days, its last read within the first half of that hour', async () => {
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes === 'install') throw unavailable();
      return { state: 'rejected' };
    });
    const t = await start(stubs);
    const install = t.event('app.installed');
    await t.send(install);
    const done = await t.result();
    assert.equal(done.phase, 'expired');
    const age = Date.parse(done.history.at(-1)?.endedAt ?? '') - Date.parse(install.createdAt);
    assert.ok(age >= 7 * DAY - 3_600_000, `not before the margin (${age} ms)`);
    // The undo after it takes moments: well inside the half hour left.
    assert.ok(age < 7 * DAY - 1_500_000, `the last read given up at half the margin, before Talkdesk's seven days (${age} ms)`);
    assert.equal(done.history.at(-1)?.deadline, new Date(Date.parse(install.createdAt) + 7 * DAY - 3_600_000).toISOString());
  });

  it('a state call in flight at the deadline is waited for: an approval that landed is not undone', async () => {
    const started = deferred();
    // Talkdesk's answer arrives after the cancellation: the call landed all the same.
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes !== 'install') return { state: 'rejected' };
      started.resolve();
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 200);
      try {
        await ctx.cancelled.catch(() => undefined);
      } finally {
        clearInterval(beat);
      }
      return { state: 'completed' };
    });
    // Real time: a deadline ten seconds after the event, no margin.
    const t = await start(stubs, { phaseTimeoutMs: 10_000, phaseMarginMs: 0 });
    await t.send(t.event('app.installed', { atSeconds: 0 }));
    await started.promise;
    const v = await t.settled('active', (s) => s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'approved');
    assert.ok(!t.stubs.names().includes('undoProvisioning'), 'nothing undone: Talkdesk completed the install');
  });
});
