import assert from 'node:assert/strict';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { ensureReconciliationSchedule, RECONCILIATION_SCHEDULE_ID } from '../../src/temporal/schedule';
import { temporalDevEnv } from '../support/servers';

describe('the reconciliation schedule', function () {
  this.timeout(60_000);

  it('is created once and updated in place on every later start-up, skipping overlaps; a pause stays', async () => {
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
      assert.deepEqual(await ensureReconciliationSchedule(client, options), { how: 'created' });
      assert.deepEqual(await ensureReconciliationSchedule(client, { ...options, intervalMs: 5 * 60_000, pageSize: 50 }), {
        how: 'updated',
      });
      const desc = await handle.describe();
      assert.equal(desc.policies.overlap, ScheduleOverlapPolicy.SKIP);
      assert.equal(desc.spec.intervals?.[0]?.every, 5 * 60_000);
      assert.equal(desc.action.type, 'startWorkflow');
      assert.equal(desc.action.type === 'startWorkflow' && desc.action.workflowType, 'reconcileWorkflow');
      assert.deepEqual(desc.action.type === 'startWorkflow' && desc.action.args, [
        { pageSize: 50, parallelism: 4, activeCheckHours: 24, talkdeskCallsPerMinute: 120, intervalMinutes: 5 },
      ]);
      // An operator's pause (the way to stop passes) outlives a start-up's update.
      await handle.pause('an operator: Talkdesk incident');
      await ensureReconciliationSchedule(client, options);
      assert.deepEqual(await handle.describe().then((d) => [d.state.paused, d.state.note]), [true, 'an operator: Talkdesk incident']);
      // Another deployment's start-up in the same namespace, on another task queue, takes it over: said.
      assert.deepEqual(await ensureReconciliationSchedule(client, { ...options, taskQueue: 'sched-test-other' }), {
        how: 'updated',
        movedFrom: 'sched-test',
      });
      const all: string[] = [];
      for await (const s of client.schedule.list()) all.push(s.scheduleId);
      assert.equal(all.filter((id) => id === RECONCILIATION_SCHEDULE_ID).length, 1);
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });
});
