import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { RECONCILIATION_SCHEDULE_ID, ensureReconciliationSchedule } from '../../src/temporal/schedule';
import { FINDING_KINDS, type ReconcileReport } from '../../workflows/reconcile-types';

/** What the reconciliation schedule did during a soak (`reconcileEveryMs`). */
export interface SoakReconciliation {
  everyMs: number;
  /** From the schedule's creation to the soak's stop. */
  driveMs?: number;
  /** Passes the schedule itself started during the drive (before the soak's own trigger, if any). */
  scheduled: number;
  /** What the schedule says it did during the drive: actions taken, and skipped (overlap) or missed (catch-up window). */
  schedule?: { actionsTaken: number; skippedOverlap: number; missedCatchupWindow: number };
  /** Passes that completed, failed (or timed out, or were terminated), and still ran when the soak stopped them. */
  completed: number;
  failed: number;
  /** Why each failed pass ended: its status and, for a failure, the message chain of its close event. */
  failures?: string[];
  running: number;
  /** Each pass still running when the soak stopped waiting: its pending activities (type, attempt, state, last failure). */
  stuck?: string[];
  /** Installations found, by kind, over every completed pass (an installation counts once per pass). */
  findings: Record<(typeof FINDING_KINDS)[number], number>;
  /** The ids each kind named, over every completed pass (listed up to 100 per pass). */
  ids: Partial<Record<(typeof FINDING_KINDS)[number], string[]>>;
  /** Per-installation errors the passes reported (a Talkdesk fault on a read, a worker killed mid-page). */
  errors: number;
  talkdeskChecked: number;
  dispatchedEvents: number;
}

/** How long at most the soak waits, when it stops the schedule, for a pass under way to end. */
const LAST_PASS_WAIT_MS = 3 * 60_000;
/** Waits shorter than this are stretched to it: a pass just triggered takes seconds. */
const LAST_PASS_MIN_WAIT_MS = 10_000;

/**
 * Runs the service's reconciliation schedule during a soak, as a deployment does
 * (`src/temporal/schedule.ts`; the soak's workers run with RECONCILE_ENABLED=false, so
 * this is the only schedule), every `everyMs` instead of every 15 minutes: its passes
 * meet installations mid-phase, under the same faults. `stop()` deletes the schedule,
 * waits (bounded) for a pass under way, and sums what the passes found.
 */
export async function startSoakReconciliation(client: Client, taskQueue: string, everyMs: number) {
  const since = new Date();
  await ensureReconciliationSchedule(client, {
    taskQueue,
    intervalMs: everyMs,
    pageSize: 200,
    parallelism: 4,
    activeCheckHours: 24,
    talkdeskCallsPerMinute: 120,
  });
  return {
    /** `waitUntil` (epoch ms): no later than this is a pass under way waited for, so that the end checks keep their time. */
    async stop(waitUntil = Infinity): Promise<SoakReconciliation> {
      const schedule = client.schedule.getHandle(RECONCILIATION_SCHEDULE_ID);
      const info = await schedule.describe().then(
        (d) => ({
          actionsTaken: d.info.numActionsTaken,
          skippedOverlap: d.info.numActionsSkippedOverlap,
          missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
        }),
        () => undefined,
      );
      const scheduled = (await passesSince(client, since)).length;
      // A drive shorter than the interval had no pass: one now, so that every soak checks a pass.
      if (scheduled === 0) await schedule.trigger();
      await schedule.delete();
      const deadline = Math.max(Date.now() + LAST_PASS_MIN_WAIT_MS, Math.min(Date.now() + LAST_PASS_WAIT_MS, waitUntil));
      let runs = await passesSince(client, since);
      // Until no pass runs (a triggered one may take a moment to be listed).
      while ((runs.length === 0 || runs.some((r) => r.status.name === 'RUNNING')) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2_000));
        runs = await passesSince(client, since);
      }
      const stuck = await Promise.all(runs.filter((r) => r.status.name === 'RUNNING').map((r) => pendingOf(client, r)));
      return {
        ...(await summarize(client, everyMs, runs)),
        ...(stuck.length > 0 ? { stuck } : {}),
        scheduled,
        driveMs: Date.now() - since.getTime(),
        ...(info ? { schedule: info } : {}),
      };
    },
  };
}

/** Every run of the reconciliation workflow started since `since` (continue-as-new runs included). */
async function passesSince(client: Client, since: Date): Promise<WorkflowExecutionInfo[]> {
  const runs: WorkflowExecutionInfo[] = [];
  const query = `WorkflowType = 'reconcileWorkflow' AND StartTime >= '${since.toISOString()}'`;
  for await (const r of client.workflow.list({ query })) runs.push(r);
  return runs;
}

async function summarize(client: Client, everyMs: number, runs: WorkflowExecutionInfo[]): Promise<SoakReconciliation> {
  const findings = Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as SoakReconciliation['findings'];
  const ids: SoakReconciliation['ids'] = {};
  const out: SoakReconciliation = {
    everyMs,
    scheduled: 0,
    completed: 0,
    failed: 0,
    running: 0,
    findings,
    ids,
    errors: 0,
    talkdeskChecked: 0,
    dispatchedEvents: 0,
  };
  for (const run of runs) {
    const status = run.status.name;
    // A pass that continued as new is counted by its last run.
    if (status === 'CONTINUED_AS_NEW') continue;
    if (status === 'RUNNING') out.running += 1;
    else if (status !== 'COMPLETED') {
      out.failed += 1;
      (out.failures ??= []).push(`${run.workflowId} (${status}): ${await closeReason(client, run)}`);
    } else {
      out.completed += 1;
      const report = (await client.workflow.getHandle(run.workflowId, run.runId).result()) as ReconcileReport;
      for (const kind of FINDING_KINDS) {
        // Older results may lack a kind's count or list.
        const listed = report[kind] ?? [];
        findings[kind] += report.counts?.[kind] ?? listed.length;
        if (listed.length > 0) ids[kind] = [...(ids[kind] ?? []), ...listed];
      }
      out.errors += report.counts?.errors ?? report.errors?.length ?? 0;
      out.talkdeskChecked += report.talkdeskChecked ?? 0;
      out.dispatchedEvents += report.dispatchedEvents;
    }
  }
  return out;
}

/** What a pass still running waits on: its pending activities, for the report of a soak that stopped waiting for it. */
async function pendingOf(client: Client, run: WorkflowExecutionInfo): Promise<string> {
  try {
    const { raw } = await client.workflow.getHandle(run.workflowId, run.runId).describe();
    const pending = (raw.pendingActivities ?? []).map((a) => {
      const beat = a.lastHeartbeatTime?.seconds
        ? `, last heartbeat ${new Date(Number(a.lastHeartbeatTime.seconds) * 1000).toISOString()}`
        : '';
      const failure = a.lastFailure?.message ? `, last failure: ${a.lastFailure.message}` : '';
      return `${a.activityType?.name ?? '?'} (attempt ${a.attempt ?? '?'}, state ${String(a.state)}${beat}${failure})`;
    });
    return `${run.workflowId} started ${run.startTime.toISOString()}: ${pending.length > 0 ? pending.join('; ') : 'no pending activity'}`;
  } catch (err) {
    return `${run.workflowId}: not described: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** The failure chain of a pass's close event (failed, timed out or terminated), for the report. */
async function closeReason(client: Client, run: WorkflowExecutionInfo): Promise<string> {
  try {
    const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const last = history.events?.at(-1);
    const failed = last?.workflowExecutionFailedEventAttributes?.failure;
    if (failed) {
      const chain: string[] = [];
      for (let f: typeof failed | null | undefined = failed; f && chain.length < 5; f = f.cause) {
        const kind =
          f.applicationFailureInfo?.type ?? (f.activityFailureInfo ? `activity ${f.activityFailureInfo.activityType?.name ?? ''}` : '');
        chain.push(`${kind ? `${kind}: ` : ''}${f.message ?? ''}`);
      }
      return chain.join(' <- ');
    }
    if (last?.workflowExecutionTerminatedEventAttributes)
      return `terminated: ${last.workflowExecutionTerminatedEventAttributes.reason ?? ''}`;
    return last?.workflowExecutionTimedOutEventAttributes ? 'timed out' : `last event ${String(last?.eventType)}`;
  } catch (err) {
    return `history not read: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * What no pass may do in a soak: fail (a pass survives every fault), or find drift (Talkdesk
 * showing an operation open or completed for an installation ended here: a lost approval or
 * acknowledgement). What it repairs is counted, and judged by the approval and state-call checks.
 */
export function reconciliationViolations(x: SoakReconciliation): string[] {
  const v: string[] = [];
  if (x.failed > 0) v.push(`${x.failed} reconciliation passes failed`);
  if (x.completed === 0)
    v.push(`no reconciliation pass completed (the soak asked for them)${x.stuck ? `; still running: ${x.stuck.join(' | ')}` : ''}`);
  // Two intervals give the schedule at least one start: none means it did not run (the soak's own trigger hid that).
  if (x.scheduled === 0 && (x.driveMs ?? 0) >= 2 * x.everyMs)
    v.push(
      `the reconciliation schedule started no pass in ${Math.round((x.driveMs ?? 0) / 1000)} s (every ${x.everyMs / 1000} s; schedule: ${JSON.stringify(x.schedule ?? 'not described')})`,
    );
  if (x.findings.drift > 0)
    v.push(`reconciliation found drift at Talkdesk for ${x.findings.drift}: ${(x.ids.drift ?? []).slice(0, 10).join(', ')}`);
  return v;
}
