import assert from 'node:assert/strict';
import { refused, useInstallationUnderTest } from './harness';

/**
 * An activity that heartbeats (provisioning, updates, undos, state calls) may run `heartbeatingActivityTimeoutMs`
 * (10 minutes by default): a large account's provision (many partner pages, thousands of mappings) outlasted the
 * one-minute attempt every time, restarting from its first page until the seven days ran out. A run whose input
 * lacks the option (started before it) takes the default: only a command's timeout changes, which replay does not
 * compare (the corpus replays histories recorded with the one-minute timeout).
 */
describe('installation workflow: the attempt time of heartbeating activities', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  /** startToCloseTimeout, in seconds, of each activity the server scheduled, by type (`heartbeat`: its heartbeat timeout). */
  async function scheduled(t: Awaited<ReturnType<typeof start>>, heartbeat = false): Promise<Map<string, number>> {
    const events = (await t.handle.fetchHistory()).events ?? [];
    return new Map(
      events.flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        const timeout = heartbeat ? a?.heartbeatTimeout : a?.startToCloseTimeout;
        return a?.activityType?.name ? [[a.activityType.name, Number(timeout?.seconds ?? 0)] as const] : [];
      }),
    );
  }

  it('undos, reverts, deprovisions and trial records (patches-decided-at-start-9) get it too, with the heartbeat timeout', async () => {
    // Not the defaults (600 s, 20 s): a workflow reading the defaults instead of its input would pass with them.
    const options = { heartbeatingActivityTimeoutMs: 480_000, activityTimeoutMs: 60_000, heartbeatTimeoutMs: 15_000 };
    // An install refused at Talkdesk is undone.
    const refusedInstall = await start(undefined, options);
    refusedInstall.stubs.on('setInstallationState', async () => Promise.reject(refused()));
    await refusedInstall.send(refusedInstall.event('app.installed'));
    await refusedInstall.settled('rejected');
    // An update refused is reverted; a trial recorded; then the uninstall deprovisions.
    const t = await start(undefined, options);
    await t.send(t.event('app.installed', { atSeconds: 0 }));
    await t.settled('active');
    t.stubs.on('setInstallationState', async (i) => (i.concludes === 'update' ? Promise.reject(refused()) : { state: 'completed' }));
    await t.send(t.event('app.updated', { atSeconds: 10, facts: { users: { adding: ['u9'] } } }));
    await t.settled('active', (v) => v.history.length === 2);
    await t.send(t.event('app.trial_started', { atSeconds: 20, facts: { expires_at: '2027-01-01T00:00:00Z' } }));
    await t.settled('active', (v) => v.appliedEvents === 3);
    await t.send(t.event('app.uninstalled', { atSeconds: 30 }));
    assert.equal((await t.result()).phase, 'uninstalled');
    const timeouts = new Map([...(await scheduled(refusedInstall)), ...(await scheduled(t))]);
    const heartbeats = new Map([...(await scheduled(refusedInstall, true)), ...(await scheduled(t, true))]);
    for (const name of ['undoProvisioning', 'revertUpdate', 'recordTrial', 'deprovisionAccount']) {
      assert.equal(timeouts.get(name), 480, name);
      assert.equal(heartbeats.get(name), 15, name);
    }
  });

  it('provisioning and the approval (the activities an install schedules on the server, both heartbeating) get heartbeatingActivityTimeoutMs', async () => {
    const t = await start(undefined, { heartbeatingActivityTimeoutMs: 480_000, activityTimeoutMs: 60_000 });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const timeouts = await scheduled(t);
    assert.equal(timeouts.get('provisionAccount'), 480);
    assert.equal(timeouts.get('setInstallationState'), 480);
  });

  it('a run whose input lacks the option (started before it existed) takes the default, ten minutes', async () => {
    const t = await start(undefined, { activityTimeoutMs: 60_000 });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const timeouts = await scheduled(t);
    assert.equal(timeouts.get('provisionAccount'), 600);
    assert.equal(timeouts.get('setInstallationState'), 600);
  });
});
