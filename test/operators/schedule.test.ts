import assert from 'node:assert/strict';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import {
  DISABLED_NOTE,
  ensureReconciliationSchedule,
  pauseReconciliationSchedule,
  RECONCILIATION_SCHEDULE_ID,
} from '../../src/temporal/schedule';
import { temporalDevEnv } from '../support/servers';

describe('the reconciliation schedule', function () {
  this.timeout(60_000);

  it('is created once and updated in place on every later start-up, skipping overlaps', async () => {
    const { client } = await temporalDevEnv();
    const handle = client.schedule.getHandle(RECONCILIATION_SCHEDULE_ID);
    try {
      const options = {
        taskQueue: 'sched-test',
        intervalMs: 15 * 60_000,
        pageSize: 200,
        parallelism: 4,
        activeCheckHours: 24,
        talkdeskCallsPerMinute: 120,
      };
      assert.equal(await ensureReconciliationSchedule(client, options), 'created');
      assert.equal(await ensureReconciliationSchedule(client, { ...options, intervalMs: 5 * 60_000, pageSize: 50 }), 'updated');
      const desc = await handle.describe();
      assert.equal(desc.policies.overlap, ScheduleOverlapPolicy.SKIP);
      assert.equal(desc.spec.intervals?.[0]?.every, 5 * 60_000);
      assert.equal(desc.action.type, 'startWorkflow');
      assert.equal(desc.action.type === 'startWorkflow' && desc.action.workflowType, 'reconcileWorkflow');
      assert.deepEqual(desc.action.type === 'startWorkflow' && desc.action.args, [
        { pageSize: 50, parallelism: 4, activeCheckHours: 24, talkdeskCallsPerMinute: 120, intervalMinutes: 5 },
      ]);
      const all: string[] = [];
      for await (const s of client.schedule.list()) all.push(s.scheduleId);
      assert.equal(all.filter((id) => id === RECONCILIATION_SCHEDULE_ID).length, 1);
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });

  it("RECONCILE_ENABLED=false pauses it (no pass starts), true again lifts that pause; an operator's pause stays", async () => {
    const { client } = await temporalDevEnv();
    // A schedule of its own: worker processes of other tests (RECONCILE_ENABLED=false) pause the service's one.
    const scheduleId = `sched-test-${randomBytes(4).toString('hex')}`;
    const handle = client.schedule.getHandle(scheduleId);
    const options = {
      scheduleId,
      taskQueue: 'sched-test',
      intervalMs: 15 * 60_000,
      pageSize: 200,
      parallelism: 4,
      activeCheckHours: 24,
      talkdeskCallsPerMinute: 120,
    };
    try {
      assert.equal(await pauseReconciliationSchedule(client, scheduleId), 'absent');
      await ensureReconciliationSchedule(client, options);
      assert.equal(await pauseReconciliationSchedule(client, scheduleId), 'paused');
      assert.deepEqual(await handle.describe().then((d) => [d.state.paused, d.state.note]), [true, DISABLED_NOTE]);
      await ensureReconciliationSchedule(client, options);
      assert.equal((await handle.describe()).state.paused, false);
      await handle.pause('an operator: Talkdesk incident');
      assert.equal(await pauseReconciliationSchedule(client, scheduleId), 'already paused');
      await ensureReconciliationSchedule(client, options);
      assert.deepEqual(await handle.describe().then((d) => [d.state.paused, d.state.note]), [true, 'an operator: Talkdesk incident']);
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });
});
