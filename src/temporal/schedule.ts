import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsAction,
} from '@temporalio/client';
import { reconcileWorkflow } from '../../workflows/reconcile';

export const RECONCILIATION_SCHEDULE_ID = 'appconnect-reconciliation';

export interface ReconciliationScheduleOptions {
  taskQueue: string;
  intervalMs: number;
  pageSize: number;
  parallelism: number;
  activeCheckHours: number;
  talkdeskCallsPerMinute: number;
  /** RECONCILIATION_SCHEDULE_ID unless given (tests that must not share the one schedule of a server). */
  scheduleId?: string;
}

/**
 * Creates the reconciliation schedule, or brings an existing one up to date, so
 * every start-up leaves exactly one schedule with the configured settings.
 * Overlapping runs are skipped: a slow pass is never doubled.
 */
export async function ensureReconciliationSchedule(client: Client, o: ReconciliationScheduleOptions): Promise<'created' | 'updated'> {
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
      scheduleId: o.scheduleId ?? RECONCILIATION_SCHEDULE_ID,
      spec,
      action,
      policies,
      memo: { purpose: 'Repairs drift between Talkdesk, MongoDB and the installation workflows' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    const handle = client.schedule.getHandle(o.scheduleId ?? RECONCILIATION_SCHEDULE_ID);
    await handle.update((prev) => ({ ...prev, spec, action, policies }));
    // Paused by RECONCILE_ENABLED=false (not by an operator, whose pause stays): running again.
    const { state } = await handle.describe();
    if (state.paused && state.note === DISABLED_NOTE) await handle.unpause('RECONCILE_ENABLED is true again');
    return 'updated';
  }
}

/** The note of a schedule paused by RECONCILE_ENABLED=false, which RECONCILE_ENABLED=true lifts. */
export const DISABLED_NOTE = 'paused: RECONCILE_ENABLED=false';

/**
 * RECONCILE_ENABLED=false: a schedule an earlier start-up created keeps starting passes unless paused. Paused
 * with a note of its own (one already paused, an operator's, is left as it is); 'absent' when there is none.
 */
export async function pauseReconciliationSchedule(
  client: Client,
  scheduleId = RECONCILIATION_SCHEDULE_ID,
): Promise<'paused' | 'already paused' | 'absent'> {
  const handle = client.schedule.getHandle(scheduleId);
  try {
    const { state } = await handle.describe();
    if (state.paused) return 'already paused';
    await handle.pause(DISABLED_NOTE);
    return 'paused';
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return 'absent';
    throw err;
  }
}
