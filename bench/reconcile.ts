import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchSystem } from './system';

export type ReconciliationResult =
  { available: false; note: string } | { available: true; seconds: number; workflowId: string; result?: unknown; error?: string };

/**
 * Whether the service has a reconciliation workflow (`workflows/reconcile.ts` exporting
 * `reconcileWorkflow`, registered in `workflows/index.ts`). Checked at run time so the
 * bench runs with or without it.
 */
export async function reconcileWorkflowAvailable(): Promise<{ ok: true; arity: number } | { ok: false; note: string }> {
  const compiled = path.join(__dirname, '..', 'workflows', 'reconcile.js');
  if (!existsSync(compiled)) return { ok: false, note: 'workflows/reconcile.ts does not exist yet' };
  const mod = (await import(pathToFileURL(compiled).href)) as { reconcileWorkflow?: unknown };
  if (typeof mod.reconcileWorkflow !== 'function') return { ok: false, note: 'workflows/reconcile.ts exports no reconcileWorkflow' };
  const index = pathToFileURL(path.join(__dirname, '..', 'workflows', 'index.js')).href;
  const registered = (await import(index)) as { reconcileWorkflow?: unknown };
  if (typeof registered.reconcileWorkflow !== 'function') {
    return { ok: false, note: 'reconcileWorkflow is not exported by workflows/index.ts, so the worker does not register it' };
  }
  return { ok: true, arity: (mod.reconcileWorkflow as (...a: unknown[]) => unknown).length };
}

/** One reconciliation pass over every installation, timed from start to result (following continue-as-new). */
export async function measureReconciliation(sys: BenchSystem, timeoutMs: number): Promise<ReconciliationResult> {
  const available = await reconcileWorkflowAvailable();
  if (!available.ok) return { available: false, note: available.note };
  const workflowId = `bench-reconcile-${Date.now().toString(36)}`;
  const started = performance.now();
  try {
    const handle = await sys.client.workflow.start('reconcileWorkflow', {
      workflowId,
      taskQueue: sys.taskQueue,
      args: available.arity > 0 ? [{}] : [],
      workflowExecutionTimeout: timeoutMs,
    });
    const result: unknown = await handle.result();
    return { available: true, seconds: round3((performance.now() - started) / 1000), workflowId, result: summarize(result) };
  } catch (err) {
    return {
      available: true,
      seconds: round3((performance.now() - started) / 1000),
      workflowId,
      error: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : String(err),
    };
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The result, kept small for the JSON file. */
function summarize(result: unknown): unknown {
  const text = JSON.stringify(result ?? null);
  return text.length <= 2_000 ? result : `${text.slice(0, 2_000)}…`;
}
