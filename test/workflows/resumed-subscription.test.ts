import assert from 'node:assert/strict';
import { ActivityStubs, deferred, useInstallationUnderTest } from './harness';

/**
 * A run resumed from the record of a live installation (its workflow lost) meets an update older than the newest one
 * applied: its subscription is taken only if no newer update set one, which the record tells (`subscriptionFrom`; a
 * record from before the field: the newest update's time, so a late one never replaces what a newer one may have set).
 */
describe('installation workflow: a resumed run and the subscription of a late update', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  /** A run resumed from an active record (updated at second 200), held until `record` fields are given; a late update (100) sent. */
  async function lateUpdateAfterResume(record: (at: (s: number) => string) => Record<string, unknown>) {
    const given = deferred<Record<string, unknown>>();
    const stubs = new ActivityStubs().on('loadInstallation', async () => ({
      appId: 'app-1',
      accountId: 'acct-1',
      activeClientId: 'client-lost-run',
      links: { root: 'https://api.talkdesk.test' },
      ...(await given.promise),
    }));
    const t = await start(stubs);
    const at = (s: number) => t.event('app.installed', { atSeconds: s }).createdAt;
    given.resolve({ phase: 'active', installEventAt: at(1), updateEventAt: at(200), lastEventAt: at(200), ...record(at) });
    await t.send(t.event('app.updated', { atSeconds: 100, facts: { subscription: { plan: { name: 'basic', licenses: 5 } } } }));
    const v = await t.settled('active', (s) => s.appliedEvents === 1);
    return { t, v, call: t.stubs.of('applyUpdate')[0] };
  }

  it('a record from before the field: the late update is resynced, its subscription not taken', async () => {
    const { v, call } = await lateUpdateAfterResume(() => ({}));
    assert.equal(call?.resyncUsers, true, 'judged late');
    assert.equal(call?.subscription, undefined);
    assert.equal(v.subscription, undefined);
  });

  it('a record naming an older update as the subscription source: the late update is newer than it, its subscription taken', async () => {
    const { v, call } = await lateUpdateAfterResume((at) => ({ subscriptionFrom: at(50) }));
    assert.equal(call?.resyncUsers, true, 'judged late');
    assert.deepEqual(call?.subscription, { plan: { name: 'basic', licenses: 5 } });
    assert.deepEqual(v.subscription, { plan: { name: 'basic', licenses: 5 } });
  });

  it("a record saying no update set one (''): the late update's subscription taken", async () => {
    const { v, call } = await lateUpdateAfterResume(() => ({ subscriptionFrom: '' }));
    assert.equal(call?.resyncUsers, true, 'judged late');
    assert.deepEqual(call?.subscription, { plan: { name: 'basic', licenses: 5 } });
    assert.deepEqual(v.subscription, { plan: { name: 'basic', licenses: 5 } });
  });
});
