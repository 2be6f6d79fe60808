import assert from 'node:assert/strict';
import { useInstallationUnderTest } from './harness';

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

  /** startToCloseTimeout, in seconds, of each activity the server scheduled, by type. */
  async function scheduled(t: Awaited<ReturnType<typeof start>>): Promise<Map<string, number>> {
    const events = (await t.handle.fetchHistory()).events ?? [];
    return new Map(
      events.flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        return a?.activityType?.name ? [[a.activityType.name, Number(a.startToCloseTimeout?.seconds ?? 0)] as const] : [];
      }),
    );
  }

  it('provisioning and the approval (the activities an install schedules on the server, both heartbeating) get heartbeatingActivityTimeoutMs', async () => {
    const t = await start(undefined, { heartbeatingActivityTimeoutMs: 600_000, activityTimeoutMs: 60_000 });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const timeouts = await scheduled(t);
    assert.equal(timeouts.get('provisionAccount'), 600);
    assert.equal(timeouts.get('setInstallationState'), 600);
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
