import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from '../src/logging/logger';
import { workflowIdFor } from '../workflows/definitions';
import { toFailure } from './failures';

/**
 * The installation workflows visibility lists as running on the service's task queue,
 * listed once when a reconciliation pass is planned: a query per page (`WorkflowId IN`
 * 200 ids) cost the dev server's visibility store seconds each, most of a pass (issue 16).
 * Undefined when the listing fails: each page then queries for its own.
 */
export async function runningInstallationWorkflows(
  temporal: { client: Client; taskQueue: string },
  logger: Logger,
): Promise<Set<string> | undefined> {
  const queue = temporal.taskQueue.replace(/'/g, '');
  const query = `WorkflowType = 'installationWorkflow' AND TaskQueue = '${queue}' AND ExecutionStatus = 'Running'`;
  try {
    const running = new Set<string>();
    for await (const wf of temporal.client.workflow.list({ query, pageSize: 1_000 })) running.add(wf.workflowId);
    return running;
  } catch (err) {
    logger.warn({ reason: toFailure(err).message }, 'visibility listing failed: each page queries its own workflows');
    return undefined;
  }
}

/**
 * Which of these installations' workflows visibility lists as running: one query a
 * page instead of a describe each (for plans without `running`). Visibility lags, so
 * one it does not list is described before anything is done; one that ended just now
 * is seen next pass. Undefined when the query fails: every installation is then described.
 */
export async function listedRunning(temporal: { client: Client }, ids: string[], logger: Logger): Promise<Set<string> | undefined> {
  const quotable = ids.filter((id) => /^[A-Za-z0-9_.:-]+$/.test(id)).map(workflowIdFor);
  if (quotable.length === 0) return new Set();
  const query = `WorkflowId IN (${quotable.map((w) => `'${w}'`).join(', ')}) AND ExecutionStatus = 'Running'`;
  try {
    const running = new Set<string>();
    for await (const wf of temporal.client.workflow.list({ query, pageSize: quotable.length })) running.add(wf.workflowId);
    return running;
  } catch (err) {
    logger.warn({ reason: toFailure(err).message }, 'visibility query failed: describing each workflow');
    return undefined;
  }
}

/** Is the installation's workflow running? (One describe.) */
export async function workflowRunning(temporal: { client: Client }, installationId: string): Promise<boolean> {
  try {
    const desc = await temporal.client.workflow.getHandle(workflowIdFor(installationId)).describe();
    return desc.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
