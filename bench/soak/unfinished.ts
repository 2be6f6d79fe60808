import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { workflowIdFor } from '../../workflows/definitions';

const short = (text: string | null | undefined, max = 120): string => (text ?? '').replace(/\s+/g, ' ').slice(0, max);

/** The error's message and its causes' (the client's "Failed to query Workflow" says little alone). */
function messageOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 3; e = e.cause) parts.push(e.message);
  return parts.length > 0 ? parts.join(': ') : String(err);
}

/**
 * Where Temporal says an installation's workflow stands, for one the soak could not finish
 * and whose state query failed: a slow workflow (an activity backing off) reads differently
 * from a stuck one (a workflow task failing again and again). Never throws.
 */
export async function describeUnfinished(client: Client, installationId: string, queryError?: unknown): Promise<string> {
  const parts: string[] = [];
  if (queryError !== undefined) parts.push(`query failed: ${short(messageOf(queryError))}`);
  try {
    const desc = await client.workflow.getHandle(workflowIdFor(installationId)).describe();
    parts.push(`${desc.status.name}, ${desc.historyLength} events`);
    const task = desc.raw.pendingWorkflowTask;
    if (task) {
      const state = task.state ? temporal.api.enums.v1.PendingWorkflowTaskState[task.state] : 'UNSPECIFIED';
      parts.push(`workflow task ${state.replace('PENDING_WORKFLOW_TASK_STATE_', '')} attempt ${task.attempt ?? 1}`);
    }
    for (const a of desc.raw.pendingActivities ?? []) {
      const failure = a.lastFailure?.message ? ` "${short(a.lastFailure.message)}"` : '';
      parts.push(`activity ${a.activityType?.name ?? '?'} attempt ${a.attempt ?? 1}${failure}`);
    }
  } catch (err) {
    parts.push(`describe failed: ${short(messageOf(err))}`);
  }
  return parts.join('; ');
}

/**
 * Writes the latest run's history of each workflow to `dir` (created), one JSON file per
 * workflow id, readable by the Temporal CLI and the replayer; returns how many were written.
 * Histories hold no secret (the soak's own check scans them).
 */
export async function saveHistories(client: Client, installationIds: readonly string[], dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  let saved = 0;
  for (const id of installationIds) {
    const workflowId = workflowIdFor(id);
    try {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      writeFileSync(path.join(dir, `${workflowId}.json`), historyToJSON(history) + '\n');
      saved += 1;
    } catch (err) {
      console.warn(`soak: history of ${workflowId} not saved: ${short(messageOf(err))}`);
    }
  }
  return saved;
}

/**
 * Whether the installation's workflow completes within `ms` (polled): the stored record says
 * uninstalled before the run's last workflow task completes, and a task a killed worker held is
 * retried by the server with a growing backoff (minutes). Never throws.
 */
export async function completesWithin(client: Client, installationId: string, ms: number, pollMs = 2_000): Promise<boolean> {
  const handle = client.workflow.getHandle(workflowIdFor(installationId));
  const deadline = Date.now() + ms;
  for (;;) {
    const status = await handle.describe().then(
      (d) => d.status.name,
      () => 'UNKNOWN',
    );
    if (status === 'COMPLETED') return true;
    if (status !== 'RUNNING' && status !== 'UNKNOWN') return false;
    if (Date.now() + pollMs > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
