import assert from 'node:assert/strict';
import type { InstallationView } from '../../workflows/definitions';
import { ActivityStubs, DAY, phases, unavailable, useInstallationUnderTest } from './harness';

/** Talkdesk gives every install, update and uninstall seven days: here the days pass in seconds. */
const HOUR = 3_600_000;

describe('installation workflow: seven-day deadlines', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  /** Talkdesk never answers the state calls that conclude `concludes`. */
  const neverConcluding = (concludes: string) =>
    new ActivityStubs()
      .on('setInstallationState', async (i) => {
        if (i.concludes === concludes) throw unavailable();
        return { state: i.state === 'approve' ? 'completed' : 'rejected' };
      })
      .on('readInstallationState', async () => Promise.reject(unavailable()));

  /** How long the last phase ran, from its event's created_at to its end. */
  const lastPhaseAge = (v: InstallationView, createdAt: string) => Date.parse(v.history.at(-1)?.endedAt ?? '') - Date.parse(createdAt);

  it('expires an install never approved within seven days and undoes what it provisioned', async () => {
    const t = await start(neverConcluding('install'));
    const install = t.event('app.installed');
    await t.send(install);
    const done = await t.result(); // awaiting the result lets the server skip the week
    assert.equal(done.phase, 'expired');
    assert.deepEqual(phases(done), ['installing']);
    assert.ok(lastPhaseAge(done, install.createdAt) >= 7 * DAY - HOUR, 'not before the seven days less the margin (phaseMarginMs)');
    assert.ok(lastPhaseAge(done, install.createdAt) < 8 * DAY, 'not long after them');
    const approvals = t.stubs.of('setInstallationState');
    assert.ok(approvals.length > 5, `it kept trying for the week (${approvals.length} attempts)`);
    assert.equal(approvals[0]?.checkFirst, false);
    assert.ok(
      approvals.slice(1).every((a) => a.checkFirst === true),
      'a retry reads Talkdesk first, never approves twice',
    );
    assert.ok(!t.stubs.stateCalls().includes('reject'), 'an expiry sends no rejection');
    // Its approval began: Talkdesk read once more at the deadline (failing too), then undone (deadline-last-read.test.ts).
    assert.ok(t.stubs.of('readInstallationState').length > 1, 'read at the deadline, failing too');
    assert.ok(lastPhaseAge(done, install.createdAt) >= 7 * DAY - HOUR / 2, 'the read retried for half the margin');
    assert.deepEqual(t.stubs.names().slice(-3), ['undoProvisioning', 'destroyCredentials', 'recordInstallation']);
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.phase, 'expired');
  });

  it('expires at once an install whose event is already older than seven days', async () => {
    const t = await start();
    const install = t.event('app.installed', { atSeconds: -8 * 86_400 });
    await t.send(install);
    const done = await t.result();
    assert.equal(done.phase, 'expired');
    assert.deepEqual(t.stubs.of('importCredentials'), [], 'nothing of the install ran');
    assert.deepEqual(t.stubs.of('provisionAccount'), []);
    assert.deepEqual(t.stubs.stateCalls(), []);
  });

  it('expires an update never approved within seven days and reverts it; the installation stays active', async () => {
    const t = await start(neverConcluding('update'));
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const update = t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } });
    await t.send(update);
    await t.until('the update to be retrying its approval', (v) => v.phase === 'updating' && v.lastError !== undefined);
    assert.equal(t.stubs.of('revertUpdate').length, 0);
    await env().sleep('8 days');
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'expired');
    assert.ok(lastPhaseAge(v, update.createdAt) >= 7 * DAY - HOUR, 'not before the seven days less the margin (phaseMarginMs)');
    assert.deepEqual(t.stubs.of('revertUpdate'), [
      {
        installationId: t.installationId,
        accountId: 'acct-1',
        applied: { usersAdded: ['u1'], usersDeactivated: [] },
        // The partner's call is keyed by the update event (src/partner/keys.ts).
        eventId: update.eventId,
        occurredAt: update.createdAt,
      },
    ]);
    assert.ok(!t.stubs.stateCalls().includes('reject'), 'an expiry sends no rejection');
    assert.equal(t.stubs.stateCalls().filter((c) => c === 'approve:install').length, 1);
  });

  it('expires an update whose change never stopped failing and reverts what its first attempt may have applied', async () => {
    const t = await start(new ActivityStubs().on('applyUpdate', async () => Promise.reject(unavailable())));
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const update = t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } });
    await t.send(update);
    await t.until('the update to be retrying its change', (v) => v.phase === 'updating' && v.lastError !== undefined);
    await env().sleep('8 days');
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'expired', 'retried until the deadline, not given up earlier');
    assert.ok(lastPhaseAge(v, update.createdAt) >= 7 * DAY - HOUR, 'not before the seven days less the margin (phaseMarginMs)');
    // No result to go by (an attempt may have applied it and timed out): the activity reverts the plan kept under the event's key.
    assert.deepEqual(t.stubs.of('revertUpdate'), [
      { installationId: t.installationId, accountId: 'acct-1', eventId: update.eventId, occurredAt: update.createdAt },
    ]);
  });

  it('deprovisions locally an uninstall never acknowledged within seven days', async () => {
    const t = await start(neverConcluding('uninstall'));
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const uninstall = t.event('app.uninstalled');
    await t.send(uninstall);
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(phases(done), ['installing', 'uninstalling']);
    assert.ok(lastPhaseAge(done, uninstall.createdAt) >= 7 * DAY - HOUR, 'not before the seven days less the margin (phaseMarginMs)');
    // Once when the phase began, once more when Talkdesk never acknowledged it.
    assert.equal(t.stubs.of('deprovisionAccount').length, 2);
    assert.deepEqual(t.stubs.names().slice(-3), ['deprovisionAccount', 'destroyCredentials', 'recordInstallation']);
    assert.equal(done.activeClientId, undefined);
  });
});
