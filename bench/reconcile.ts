import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { COLLECTIONS } from '../src/store/db';
import { WRITES_PER_COMMAND } from '../src/store/reconcile-plans';
import { STEADY_CHECK_SPREAD_MS } from './seed';
import type { BenchSystem } from './system';

/** One timed pass, with its Talkdesk counts (from its report) when it has them. */
export interface ReconciliationPass {
  available: true;
  seconds: number;
  workflowId: string;
  result?: unknown;
  error?: string;
  /** Installations due at Talkdesk when planned (in progress, or last read longer ago than the window). */
  due?: number;
  /** Read at Talkdesk in the pass. */
  checked?: number;
  /** Due, but left to the next pass by the budget. */
  deferred?: number;
  /**
   * Of `seconds`, those before the pass's first workflow task ran (its report's `startedAt`): the worker's
   * backlog at the start (after the mass install, thousands of seeded workflows' first tasks), not the pass.
   */
  queuedSeconds?: number;
}

export type ReconciliationResult =
  | { available: false; note: string }
  | (ReconciliationPass & {
      /** The first pass after the mass install (the bench's seeding), before the steady-state pass above. */
      burst?: ReconciliationPass;
    });

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
  const startedWall = Date.now();
  try {
    const handle = await sys.client.workflow.start('reconcileWorkflow', {
      workflowId,
      taskQueue: sys.taskQueue,
      args: available.arity > 0 ? [{}] : [],
      workflowExecutionTimeout: timeoutMs,
    });
    const result: unknown = await handle.result();
    return {
      available: true,
      seconds: round3((performance.now() - started) / 1000),
      workflowId,
      ...queued(result, startedWall),
      ...talkdeskCounts(result),
      result: summarize(result),
    };
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

/** `queuedSeconds` from the pass's report (`startedAt`, set by its first workflow task), when it has one. */
function queued(result: unknown, startedWall: number): { queuedSeconds?: number } {
  const at = Date.parse(String((result as { startedAt?: unknown } | null)?.startedAt ?? ''));
  return Number.isFinite(at) ? { queuedSeconds: round3(Math.max(0, at - startedWall) / 1000) } : {};
}

/** Due, read and deferred at Talkdesk, from the pass's report (a service without the planned pass has none). */
function talkdeskCounts(result: unknown): Pick<ReconciliationPass, 'due' | 'checked' | 'deferred'> {
  const r = result as { talkdeskChecked?: unknown; talkdeskDeferred?: unknown; talkdeskPlanned?: unknown } | null;
  const num = (x: unknown) => (typeof x === 'number' ? x : undefined);
  const [checked, deferred, planned] = [num(r?.talkdeskChecked), num(r?.talkdeskDeferred), num(r?.talkdeskPlanned)];
  return {
    ...(planned !== undefined && deferred !== undefined ? { due: planned + deferred } : {}),
    ...(checked !== undefined ? { checked } : {}),
    ...(deferred !== undefined ? { deferred } : {}),
  };
}

/**
 * Makes every installation's last Talkdesk read what a running system's is just before a
 * pass: spread evenly over the default window (RECONCILE_ACTIVE_CHECK_HOURS, 24) plus one
 * interval (15 minutes), anchored now, so that about one in 97 is due (103 of 10,000).
 * The seed spreads them the same way, but anchored when it wrote them: by the first pass
 * the minutes of seeding have made more due. `alsoDue` more (a mass install, read at its
 * approvals, a day later) are made due, just past the window. Written by `{_id}`.
 * Returns how many are due.
 */
export async function steadyStateChecks(
  sys: BenchSystem,
  alsoDue = 0,
  windowMs = 24 * 3_600_000,
): Promise<{ installations: number; due: number }> {
  const coll = sys.store.installations.coll;
  // The spread is the whole story: reconciliation's own record of its reads (an earlier pass's) goes.
  await sys.store.db.collection(COLLECTIONS.talkdeskChecks).deleteMany({});
  const ids = (await coll.find({}, { projection: { _id: 1 } }).toArray()).map((r) => r._id).sort();
  const now = Date.now();
  const ages = ids.map((_, i) => (i < alsoDue ? windowMs + 60_000 : Math.floor(((i + 0.5) / ids.length) * STEADY_CHECK_SPREAD_MS)));
  // In small commands: FerretDB 1.24 hangs on an update command of more than 100 statements (src/store/reconcile-plans.ts).
  for (let i = 0; i < ids.length; i += WRITES_PER_COMMAND) {
    await coll.bulkWrite(
      ids.slice(i, i + WRITES_PER_COMMAND).map((_id, j) => ({
        updateOne: { filter: { _id }, update: { $set: { talkdeskCheckedAt: new Date(now - ages[i + j]!) } } },
      })),
      { ordered: false },
    );
  }
  return { installations: ids.length, due: ages.filter((a) => a >= windowMs).length };
}

/** The result, kept small for the JSON file. */
function summarize(result: unknown): unknown {
  const text = JSON.stringify(result ?? null);
  return text.length <= 2_000 ? result : `${text.slice(0, 2_000)}…`;
}
