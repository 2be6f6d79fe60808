import { postCallback } from '../test/support/callback-client';
import type { ApprovalTracker } from './approvals';
import { round } from './ingest';
import { keepAliveAgent, runPool, sleep } from './load';
import { cpuPids, processPids } from './lifecycle';
import { cpuSnapshot } from './machine';
import { rssMiB } from './machine';
import { measureReconciliation, steadyStateChecks, type ReconciliationResult } from './reconcile';
import { seedActiveInstallations, type SeedResult } from './seed';
import type { BenchSystem } from './system';

export interface ScaleResult {
  /** Installations asked for. */
  target: number;
  /** Installations active at once: installed through the callback, plus seeded. */
  active: number;
  /** Installations approved at the simulator (through the callback, the install path). */
  approved: number;
  /** Installations made active without the install path (bench/seed.ts), when the target is above `installedTarget`. */
  seeded?: SeedResult;
  /** Installation workflows running (open, waiting for events), from visibility. */
  openWorkflows: number;
  /** Installs added in this step to reach the target, and how fast. */
  added: number;
  addSeconds: number;
  addPerSecond: number;
  /** CPU seconds per install added, by process: beside the lifecycle figure's, it shows what grows with the data. */
  cpuSecondsPerInstall: Record<string, number>;
  /** RSS (MiB) of each process at start (reference) and with `approved` installations active. */
  rssMiB: { baseline: Record<string, number>; atScale: Record<string, number> };
  reconciliation: ReconciliationResult;
}

/** One of the two scale runs (`runs[].scale`): memory read just before its steady-state pass, and that pass. */
export interface ScaleRun {
  active: number;
  rssMiB: { baseline: Record<string, number>; atScale: Record<string, number> };
  reconciliation: ReconciliationResult;
}

export function rssSnapshot(sys: BenchSystem): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(processPids(sys))) {
    const v = rssMiB(pid);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/**
 * (3) Scale: installs more installations (each through the callback to its approval)
 * until `installedTarget` are active, seeds the rest up to `target` (bench/seed.ts),
 * then reads every process's memory beside its baseline and times reconciliation
 * passes over all of them: the first after the mass install, then two in steady state (the
 * two runs of `runs[]`, each with the memory read just before it; the result holds the second).
 */
export async function measureScale(
  sys: BenchSystem,
  approvals: ApprovalTracker,
  sizes: { target: number; installedTarget: number },
  concurrency: number,
  baseline: Record<string, number>,
  timeoutMs: number,
): Promise<{ scale: ScaleResult; runs: ScaleRun[] }> {
  const { target } = sizes;
  const missing = Math.max(0, Math.min(target, sizes.installedTarget) - approvals.count);
  const agent = keepAliveAgent(concurrency);
  const pids = cpuPids(sys);
  const before = cpuSnapshot(pids);
  let added;
  try {
    added = await runPool(
      missing,
      concurrency,
      async () => {
        const { event } = sys.simulator.createInstallation();
        const raw = JSON.stringify(event);
        const res = await postCallback(sys.web.callbackUrl, raw, { signature: sys.simulator.signBody(raw), agent, timeoutMs: 30_000 });
        if (res.status !== 200) throw new Error(`answered ${res.status}: ${res.text.slice(0, 200)}`);
        await approvals.wait(event.data.installation_id, 5 * 60_000);
      },
      timeoutMs,
    );
  } finally {
    agent.destroy();
  }
  const after = cpuSnapshot(pids);
  const cpuSecondsPerInstall = Object.fromEntries(
    Object.keys(pids).map((k) => [k, round(((after[k] ?? 0) - (before[k] ?? 0)) / Math.max(1, added.ok), 4)]),
  );
  if (added.failed > 0) console.warn(`bench: scale: ${added.failed} installs failed, e.g. ${added.errors.join('; ')}`);
  const toSeed = Math.max(0, target - approvals.count);
  const seeded = toSeed > 0 ? await seedActiveInstallations(sys, toSeed, concurrency, timeoutMs) : undefined;
  if (seeded?.failed) console.warn(`bench: scale: ${seeded.failed} seeded workflows did not start, e.g. ${seeded.errors.join('; ')}`);
  const active = approvals.count + (seeded?.seeded ?? 0);
  // Let the last phases end (the approval comes just before the phase is recorded).
  const query = `WorkflowType='installationWorkflow' AND ExecutionStatus='Running' AND TaskQueue='${sys.taskQueue}'`;
  let open = 0;
  for (let i = 0; i < 20; i += 1) {
    open = (await sys.client.workflow.count(query)).count;
    if (open >= active) break;
    await sleep(500);
  }
  await sleep(2_000);
  const runs = await measureReconciliations(sys, active, baseline, timeoutMs);
  const last = runs.at(-1)!;
  const scale: ScaleResult = {
    target,
    active,
    approved: approvals.count,
    seeded,
    openWorkflows: open,
    added: added.ok,
    addSeconds: added.seconds,
    addPerSecond: added.perSecond,
    cpuSecondsPerInstall,
    rssMiB: last.rssMiB,
    reconciliation: last.reconciliation,
  };
  return { scale, runs };
}

/** Steady-state passes timed, each a run of its own (the "run each comparison twice"). */
const STEADY_RUNS = 2;
/** The reconciliation read budget (RECONCILE_TALKDESK_CALLS_PER_MINUTE's default, which the bench runs with), and its window
 * (activities/reconcile-pacing.ts `ReadWindow`) with a second of slack. */
const DEFAULT_READS_PER_MINUTE = 120;
const BUDGET_WINDOW_MS = 61_000;

/**
 * First the pass after the mass install (the seeded installations' last reads as a running system's, but older by
 * the minutes the installs and seeding took: at 10,000 more than one minute's budget is due); then, twice, every last
 * read spread as a running system's just before a pass (bench/reconcile.ts `steadyStateChecks`), the pass the issue's
 * target describes, with each process's memory read just before it. The runs' `reconciliation` is the steady pass's
 * own; the first pass's figures are its `burst`.
 */
async function measureReconciliations(
  sys: BenchSystem,
  active: number,
  baseline: Record<string, number>,
  timeoutMs: number,
): Promise<ScaleRun[]> {
  const run = (reconciliation: ReconciliationResult, atScale: Record<string, number>): ScaleRun => ({
    active,
    rssMiB: { baseline, atScale },
    reconciliation,
  });
  const atFirst = rssSnapshot(sys);
  const first = await measureReconciliation(sys, timeoutMs);
  if (!first.available) return [run(first, atFirst)];
  const runs: ScaleRun[] = [];
  let last = { endedAt: Date.now(), read: first.checked ?? 0 };
  for (let k = 0; k < STEADY_RUNS; k += 1) {
    const { due } = await steadyStateChecks(sys);
    // Each pass of a running system starts with its minute's read budget unspent (passes are RECONCILE_INTERVAL_MINUTES
    // apart): one started at once after the previous pass waited for that pass's reads to leave the worker's window.
    // The reads spread again after that wait: spread before it, a minute's more would be due.
    if (last.read + due > DEFAULT_READS_PER_MINUTE) {
      await sleep(Math.max(0, last.endedAt + BUDGET_WINDOW_MS - Date.now()));
      await steadyStateChecks(sys);
    }
    const atScale = rssSnapshot(sys);
    const steady = await measureReconciliation(sys, timeoutMs);
    last = { endedAt: Date.now(), read: (steady.available && steady.checked) || 0 };
    runs.push(run(steady.available ? { ...steady, burst: first } : steady, atScale));
    if (!steady.available) break;
  }
  return runs;
}
