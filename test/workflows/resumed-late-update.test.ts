import assert from 'node:assert/strict';
import { ActivityStubs, useInstallationUnderTest } from './harness';

/**
 * The newest update applied is kept on the installation record (`updateEventAt`), so that a run resumed from it
 * (reconciliation, after the workflow was lost) judges an older update late, as the lost run would have.
 */
describe('installation workflow: late updates across a lost workflow', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  it('records the newest update applied on the installation record', async () => {
    const t = await start();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const update = t.event('app.updated', { atSeconds: 30 });
    await t.send(update);
    await t.settled('active', (v) => v.appliedEvents === 2);
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.updateEventAt, update.createdAt);
    await t.send(t.event('app.updated', { atSeconds: 10 })); // late: the record keeps the newer one
    await t.settled('active', (v) => v.appliedEvents === 3);
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.updateEventAt, update.createdAt);
  });

  it('a run resumed from the record judges an update older than the recorded one late: users re-read, nothing sent blind', async () => {
    const stubs = new ActivityStubs().on('loadInstallation', async () => ({
      phase: 'active',
      appId: 'app-1',
      accountId: 'acct-1',
      activeClientId: 'client-lost-run',
      links: { root: 'https://api.talkdesk.test' },
      // Newer than any event the test sends: the newest applied was an update.
      lastEventAt: '2100-01-01T00:00:00.000Z',
      updateEventAt: '2100-01-01T00:00:00.000Z',
    }));
    const t = await start(stubs);
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u-stale'], removing: [] } } }));
    const v = await t.settled('active', (s) => s.appliedEvents === 1);
    const apply = t.stubs.of('applyUpdate')[0];
    assert.deepEqual([apply?.resyncUsers, apply?.usersAdding], [true, []], 'its stale delta is not applied: users re-read');
    const call = t.stubs.of('setInstallationState')[0];
    assert.deepEqual([call?.late, call?.checkFirst], [true, true], 'read first, never sent blind');
    assert.match(v.history.at(-1)?.detail ?? '', /late update/);
  });
});
