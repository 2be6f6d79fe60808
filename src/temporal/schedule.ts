import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import { reconcileWorkflow } from '../../workflows/reconcile';

export const RECONCILIATION_SCHEDULE_ID = 'appconnect-reconciliation';

export interface ReconciliationScheduleOptions {
  taskQueue: string;
  intervalMs: number;
  pageSize: number;
  parallelism: number;
  activeCheckHours: number;
  talkdeskCallsPerMinute: number;
}

/** What a start-up did to the schedule; `movedFrom`: the task queue its passes ran on before, when another. */
export interface ScheduleEnsured {
  how: 'created' | 'updated';
  movedFrom?: string;
}

/**
 * Creates the reconciliation schedule, or brings an existing one up to date, so
 * every start-up leaves exactly one schedule with the configured settings.
 * Overlapping runs are skipped: a slow pass is never doubled. The schedule is one
 * per namespace: a start-up on another task queue takes it over (`movedFrom`).
 */
export async function ensureReconciliationSchedule(client: Client, o: ReconciliationScheduleOptions): Promise<ScheduleEnsured> {
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: reconcileWorkflow,
    workflowId: 'reconciliation',
    taskQueue: o.taskQueue,
    args: [
      {
        pageSize: o.pageSize,
        parallelism: o.parallelism,
        activeCheckHours: o.activeCheckHours,
        talkdeskCallsPerMinute: o.talkdeskCallsPerMinute,
        intervalMinutes: o.intervalMs / 60_000,
      },
    ],
  };
  const spec = { intervals: [{ every: o.intervalMs }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: o.intervalMs };
  try {
    await client.schedule.create({
      scheduleId: RECONCILIATION_SCHEDULE_ID,
      spec,
      action,
      policies,
      memo: { purpose: 'Repairs drift between Talkdesk, MongoDB and the installation workflows' },
    });
    return { how: 'created' };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    let movedFrom: string | undefined;
    await client.schedule.getHandle(RECONCILIATION_SCHEDULE_ID).update((prev) => {
      const before = prev.action.type === 'startWorkflow' ? prev.action.taskQueue : undefined;
      if (before !== undefined && before !== o.taskQueue) movedFrom = before;
      return { ...prev, spec, action, policies };
    });
    return { how: 'updated', ...(movedFrom !== undefined ? { movedFrom } : {}) };
  }
}
