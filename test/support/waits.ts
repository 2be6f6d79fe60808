import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { stateQuery, workflowIdFor, type InstallationView } from '../../workflows/definitions';

/** Polls until `check` returns a value (not undefined), or fails with what it last saw. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * A bounded observation: `check` must hold at every poll for `forMs`, and the wait fails
 * as soon as it does not. Start it after something that proves the system had the chance
 * to break it, so that a pass means something.
 */
export async function holdsFor(what: string, check: () => Promise<boolean> | boolean, forMs: number): Promise<void> {
  const end = Date.now() + forMs;
  for (;;) {
    if (!(await check())) throw new Error(`${what}: no longer true after ${forMs - Math.max(0, end - Date.now())} ms`);
    if (Date.now() >= end) return;
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED */
const UPDATE_ADMITTED = 1;

/**
 * Resolves once the server knows the update `updateId` (admitted, even while no worker
 * runs to accept it): an unknown update is answered NotFound, so this polls until found.
 */
export async function updateAdmitted(client: Client, workflowId: string, updateId: string, timeoutMs = 15_000): Promise<void> {
  await eventually(
    `update ${updateId} to reach the server`,
    async () => {
      await client.connection.withDeadline(Date.now() + 2_000, () =>
        client.workflowService.pollWorkflowExecutionUpdate({
          namespace: client.options.namespace,
          updateRef: { workflowExecution: { workflowId }, updateId },
          identity: 'test',
          waitPolicy: { lifecycleStage: UPDATE_ADMITTED },
        }),
      );
      return true;
    },
    timeoutMs,
  );
}

export function queryState(client: Client, installationId: string): Promise<InstallationView> {
  return client.workflow.getHandle(workflowIdFor(installationId)).query(stateQuery);
}

/** Waits until the installation's workflow reports `phase` (and nothing is left queued). */
export async function waitForPhase(client: Client, installationId: string, phase: string, timeoutMs = 30_000): Promise<InstallationView> {
  let last: InstallationView | undefined;
  try {
    return await eventually(
      `installation ${installationId} to be ${phase}`,
      async () => {
        last = await queryState(client, installationId);
        return last.phase === phase && last.pendingEvents.length === 0 && !last.currentStep ? last : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    const saved = /TMPRL1100/.test((err as Error).message) ? await saveHistory(client, installationId) : '';
    throw new Error(`${(err as Error).message}; last state: ${JSON.stringify(last)}${saved}`);
  }
}

/**
 * A stalled or nondeterministic workflow is only diagnosable from its history: keep it (and say
 * where), with its events in short form and the workflow task the server holds pending.
 */
export async function saveHistory(client: Client, installationId: string): Promise<string> {
  try {
    const handle = client.workflow.getHandle(workflowIdFor(installationId));
    const history = await handle.fetchHistory();
    const file = join(tmpdir(), `history-${installationId}-${Date.now()}.json`);
    await writeFile(file, historyToJSON(history));
    const events = (history.events ?? []).map((e) => `${e.eventId}:${eventName(e.eventType)}`).join(' ');
    const { raw } = await handle.describe();
    const task = raw.pendingWorkflowTask;
    const state = task ? temporal.api.enums.v1.PendingWorkflowTaskState[task.state ?? 0] : '';
    const pending = task ? `; pending workflow task: ${state} attempt ${task.attempt}` : '';
    return `; history saved to ${file}; events: ${events}${pending}`;
  } catch (e) {
    return `; history not saved: ${(e as Error).message}`;
  }
}

const eventName = (type: temporal.api.enums.v1.EventType | null | undefined) =>
  (temporal.api.enums.v1.EventType[type ?? 0] ?? String(type)).replace(/^EVENT_TYPE_/, '');

/** Waits for the installation's workflow to complete and returns its final view. */
export function finalView(client: Client, installationId: string): Promise<InstallationView> {
  return client.workflow.getHandle(workflowIdFor(installationId)).result() as Promise<InstallationView>;
}

/** Waits for `p` for up to `ms`: whether it settled (a rejection counts), without failing either way. */
export function settledWithin(p: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms).unref()));
  const settled = (p ?? Promise.resolve()).then(
    () => true,
    () => true,
  );
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}
