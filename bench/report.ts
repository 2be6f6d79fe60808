import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EvictedResult } from './evicted';
import type { IngestResult } from './ingest';
import type { LaunchResult } from './launch';
import type { LifecycleResult } from './lifecycle';
import type { Measured } from './load';
import { describeMachine, round, type MachineInfo } from './machine';
import { toChart } from './report-chart';
import type { ReconciliationPass } from './reconcile';
import type { ScaleResult, ScaleRun } from './scale';

export interface TuningValue {
  value: number;
  /** `service default`: the service's own (src/worker/cache-budget.ts); results before 2026-12-02 had the SDK's there. */
  source: 'env' | 'SDK default' | 'service default';
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  seconds: number;
  machine: MachineInfo;
  settings: {
    n: number;
    concurrency: number;
    scale: number;
    /** Absent in results written before seeding existed (every installation was installed). */
    scaleInstalled?: number;
    scaleConcurrency: number;
    workerProcesses: number;
    stateDir: string;
    /** The worker processes' V8 flags (absent before 2026-12-06: no heap limit). */
    workerNodeFlags?: string;
    /** The MongoDB wire-protocol server the run used. */
    store?: string;
    web: string;
    /** Pollers are absent in results written before they could be set. */
    tuning: {
      maxCachedWorkflows: TuningValue;
      maxConcurrentActivityTaskExecutions: TuningValue;
      maxConcurrentWorkflowTaskExecutions: TuningValue;
      maxConcurrentWorkflowTaskPolls?: TuningValue;
      maxConcurrentActivityTaskPolls?: TuningValue;
    };
  };
  /** Each comparison run (absent before 2026-12-02, when each ran once); the top-level `ingest` and `lifecycle` are the last. */
  runs?: BenchRun[];
  ingest: Omit<IngestResult, 'installationIds'>;
  lifecycle: Omit<LifecycleResult, 'installationIds'> & {
    /** The ingest's installs (of every run), queued while no worker ran, drained once the workers started. */
    backlog: { installs: number; approved: number; seconds: number; perSecond: number };
  };
  /** Absent before 2026-12-02. */
  launch?: LaunchResult;
  scale: ScaleResult;
  /** Absent before 2026-12-02. */
  workerCache?: WorkerCacheFigures;
  /** Absent before 2026-12-02. */
  evicted?: EvictedResult;
}

/** The worker's sticky cache at scale (per worker process). */
export interface WorkerCacheFigures {
  maxCachedWorkflows: number;
  /** Workflows in the cache with `scale.openWorkflows` open: all of them up to its size. */
  cachedAtScale: number;
  /** Worker RSS at scale minus at start. */
  rssGrowthMiB: number;
  /** rssGrowthMiB / cachedAtScale: an upper bound of one cached workflow's memory (the growth also holds the installs' garbage). */
  miBPerCachedWorkflow?: number;
}

/** One run of the ingest and lifecycle comparisons. */
export interface BenchRun {
  ingest: Omit<IngestResult, 'installationIds'>;
  lifecycle: Omit<LifecycleResult, 'installationIds'>;
  /** The steady-state reconciliation pass of this run, and the memory read just before it (bench/scale.ts). */
  scale?: ScaleRun;
}

/** ` (scanned N, E errors)` from a reconciliation report, when it has those fields. */
function reconcileCounts(result: unknown): string {
  const r = result as { scanned?: unknown; counts?: { errors?: unknown } } | undefined;
  if (typeof r?.scanned !== 'number') return '';
  return ` (scanned ${r.scanned}${typeof r.counts?.errors === 'number' ? `, ${r.counts.errors} errors` : ''})`;
}

/** `; Talkdesk: D due, C read, F deferred` when the pass reported them. */
function talkdeskLine(p: ReconciliationPass): string {
  if (p.checked === undefined) return '';
  return `; Talkdesk: ${p.due ?? '?'} due, ${p.checked} read, ${p.deferred ?? 0} deferred (${RECONCILE_DEFAULTS})`;
}

const RECONCILE_DEFAULTS = 'window 24 h, 120 reads a minute, every 15 minutes';

export const cpuLine = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

const cpuTotal = (cpu: Record<string, number>) => Math.round(Object.values(cpu).reduce((a, b) => a + b, 0) * 1000) / 1000;

/** a ÷ b to two decimals; empty when b is not a positive figure. */
const ratioOf = (a: number, b: number): string => (b > 0 ? `${round(a / b)}` : '');

const lat = (m: Measured) => `${m.latencyMs.p50} / ${m.latencyMs.p95} / ${m.latencyMs.p99}`;

/** A run's worker RSS and steady-state pass seconds, `n/a` for what it lacks. */
function scaleRunText(run: ScaleRun | undefined): string {
  const pass = run?.reconciliation;
  const seconds = pass?.available ? (pass.error ? `failed after ${pass.seconds}` : `${pass.seconds}`) : 'n/a';
  // One worker is `worker`; several are `worker1`, `worker2`…: their sum.
  const workers = Object.entries(run?.rssMiB.atScale ?? {}).filter(([name]) => /^worker\d*$/.test(name));
  const rss =
    workers.length > 0
      ? `${round(
          workers.reduce((a, [, mib]) => a + mib, 0),
          1,
        )}`
      : 'n/a';
  return `${rss}, ${seconds}`;
}

/** Rows of the summary: figure, service, reference, ratio. */
export function summaryRows(r: BenchResult): string[][] {
  const c = r.settings.concurrency;
  const i = r.ingest;
  const l = r.lifecycle;
  const s = r.scale;
  const rec = s.reconciliation;
  const runs = r.runs ?? [];
  const rows: string[][] = [
    [
      `Ingest: acks/s (N=${r.settings.n}, C=${c})`,
      `${i.service.perSecond}`,
      `bare signalWithStart ${i.bareSignalWithStart.perSecond}; no-op Koa ${i.noopKoa.perSecond}`,
      `${i.ratio}`,
    ],
    [
      'Ingest floor: the same events, no store (acks/s; p50 / p95 / p99 ms)',
      `${i.floor.perSecond}; ${lat(i.floor)}`,
      `floor ÷ bare signalWithStart ${i.floorRatio}`,
      `service ÷ floor ${i.ratioVsFloor}`,
    ],
    [
      'Ingest durable floor: the floor plus one insert before the hand-over (acks/s; p50 / p95 / p99 ms)',
      `${i.durableFloor.perSecond}; ${lat(i.durableFloor)}`,
      `durable floor ÷ bare signalWithStart ${i.durableFloorRatio}`,
      `service ÷ durable floor ${i.ratioVsDurableFloor}`,
    ],
    [
      'Ingest: latency p50 / p95 / p99 (ms)',
      lat(i.service),
      `bare signalWithStart ${lat(i.bareSignalWithStart)}; no-op Koa ${lat(i.noopKoa)}`,
      `p99 ${i.p99Ratio}`,
    ],
    [
      `Lifecycle: installs/s (C=${c} in flight)`,
      `${l.service.perSecond}`,
      `3 no-op activities: ${l.reference.perSecond} workflows/s`,
      `${l.ratio}`,
    ],
    [
      'Lifecycle: median event → approval (ms)',
      `${l.service.latencyMs.p50}`,
      `3 no-op activities: ${l.reference.latencyMs.p50} (start → result)`,
      `${l.p50Ratio}`,
    ],
    [
      'Lifecycle: p95 event → approval (ms)',
      `${l.service.latencyMs.p95}`,
      `3 no-op activities: ${l.reference.latencyMs.p95}`,
      `${ratioOf(l.service.latencyMs.p95, l.reference.latencyMs.p95)}`,
    ],
    [
      'Lifecycle: queued installs drained (installs/s)',
      `${l.backlog.perSecond}`,
      `${l.backlog.approved} of ${l.backlog.installs} in ${l.backlog.seconds} s`,
      '',
    ],
    ...runs.map((run, k) => [
      `Run ${k + 1} of ${runs.length}: ingest acks/s; installs/s; worker RSS MiB, reconciliation s at scale`,
      `${run.ingest.service.perSecond}; ${run.lifecycle.service.perSecond}; ${scaleRunText(run.scale)}`,
      `${run.ingest.bareSignalWithStart.perSecond}; ${run.lifecycle.reference.perSecond}`,
      `${run.ingest.ratio}; ${run.lifecycle.ratio}`,
    ]),
    [
      'Ingest: CPU seconds per acknowledged event, by process',
      `${cpuTotal(r.ingest.cpuSecondsPerEvent)} in all: ${cpuLine(r.ingest.cpuSecondsPerEvent)}`,
      `per bare signalWithStart: ${cpuTotal(r.ingest.bareCpuSecondsPerSignalWithStart)} in all: ${cpuLine(r.ingest.bareCpuSecondsPerSignalWithStart)}`,
      '',
    ],
    [
      'Ingest: ms per acknowledged event, by step in the web process',
      Object.entries(r.ingest.callbackStepsMs)
        .map(([step, ms]) => `${step} ${ms}`)
        .join(', '),
      `service p50 ${r.ingest.service.latencyMs.p50}; bare p50 ${r.ingest.bareSignalWithStart.latencyMs.p50}`,
      '',
    ],
    ['Lifecycle: CPU seconds per install, by process', `${cpuTotal(l.cpuSecondsPerInstall)} in all`, cpuLine(l.cpuSecondsPerInstall), ''],
    ...launchRows(r.launch),
    [
      `Scale: installations active at once`,
      `${s.active} (${s.openWorkflows} workflows open)`,
      `target ${s.target}; ${s.approved} installed (last ${s.added} at ${s.addPerSecond}/s)` +
        (s.seeded
          ? `, ${s.seeded.seeded} seeded (written in bulk in ${s.seeded.writeSeconds} s, workflows started from their records at ${s.seeded.startPerSecond}/s)`
          : ''),
      '',
    ],
  ];
  for (const name of Object.keys(s.rssMiB.atScale)) {
    const base = s.rssMiB.baseline[name];
    rows.push([
      `Scale: RSS ${name} (MiB)`,
      `${s.rssMiB.atScale[name]}`,
      `at start: ${base ?? 'n/a'}`,
      base ? `${ratioOf(s.rssMiB.atScale[name]!, base)}` : '',
    ]);
  }
  const passRow = (label: string, p: ReconciliationPass) => [
    label,
    p.error
      ? `failed after ${p.seconds} (${p.error})`
      : `${p.seconds}${p.queuedSeconds && p.queuedSeconds >= 1 ? ` (of which ${p.queuedSeconds} waiting for the worker's first task)` : ''}`,
    `over ${s.active} installations${reconcileCounts(p.result)}${talkdeskLine(p)}`,
    '',
  ];
  if (!rec.available) rows.push(['Scale: one reconciliation pass (s)', 'reconciliation: not available', rec.note, '']);
  else {
    rows.push(passRow('Scale: one reconciliation pass, steady state (s)', rec));
    if (rec.burst) rows.push(passRow('Scale: reconciliation, first pass after the mass install (s)', rec.burst));
  }
  const wc = r.workerCache;
  if (wc) {
    rows.push([
      'Scale: worker RSS growth per cached workflow (MiB)',
      `${wc.miBPerCachedWorkflow ?? 'n/a'}`,
      `${wc.rssGrowthMiB} MiB over the start with ${wc.cachedAtScale} cached (cache ${wc.maxCachedWorkflows})`,
      '',
    ]);
  }
  const e = r.evicted;
  if (e) {
    rows.push([
      `Evicted workflow: update → approval p50 / p95 (ms), cache ${e.maxCachedWorkflows}`,
      `${e.evicted.latencyMs.p50} / ${e.evicted.latencyMs.p95} (replays its history)`,
      `in cache: ${e.cached.latencyMs.p50} / ${e.cached.latencyMs.p95}`,
      `${e.ratio}`,
    ]);
  }
  return rows;
}

function launchRows(l: LaunchResult | undefined): string[][] {
  if (!l) return [];
  return [
    [
      'Launch: sign-ins/s (launch → first page)',
      `${l.service.perSecond}`,
      `its ${l.talkdeskRoundTrips} Talkdesk round trips, bare: ${l.reference.perSecond}/s`,
      `${l.ratio}`,
    ],
    [
      'Launch: p50 / p95 / p99 launch → first page (ms)',
      lat(l.service),
      `its ${l.talkdeskRoundTrips} Talkdesk round trips, bare: ${lat(l.reference)}`,
      `p95 ${l.p95Ratio} (target ≤ 1.5)`,
    ],
    [
      'Launch floor: the same browser sign-in through a bare server (no store), p50 / p95 / p99 (ms)',
      lat(l.floor),
      `vs the bare round trips: p95 ${l.floorP95VsReference}; the service vs the floor: p95 ${l.p95VsFloor}`,
      `${l.p95VsFloor}`,
    ],
  ];
}

function settingsLine(r: BenchResult): string {
  const t = r.settings.tuning;
  const v = (x: TuningValue) => `${x.value}${x.source === 'env' ? '' : ` (${x.source})`}`;
  return (
    `worker processes: ${r.settings.workerProcesses === 0 ? 'one, in the bench process' : r.settings.workerProcesses}; ` +
    `maxCachedWorkflows ${v(t.maxCachedWorkflows)}, maxConcurrentActivityTaskExecutions ${v(t.maxConcurrentActivityTaskExecutions)}, ` +
    `maxConcurrentWorkflowTaskExecutions ${v(t.maxConcurrentWorkflowTaskExecutions)}` +
    (t.maxConcurrentWorkflowTaskPolls ? `, maxConcurrentWorkflowTaskPolls ${v(t.maxConcurrentWorkflowTaskPolls)}` : '') +
    (t.maxConcurrentActivityTaskPolls ? `, maxConcurrentActivityTaskPolls ${v(t.maxConcurrentActivityTaskPolls)}` : '') +
    (r.settings.workerNodeFlags !== undefined ? `; worker node flags: ${r.settings.workerNodeFlags || 'none'}` : '') +
    '; ' +
    `store: ${r.settings.store ?? 'FerretDB 1.24 (SQLite), embedded'}; state files in ${r.settings.stateDir}`
  );
}

export function toMarkdown(r: BenchResult): string {
  const rows = summaryRows(r);
  return [
    `# Benchmark ${r.startedAt}`,
    '',
    `Machine: ${describeMachine(r.machine)}`,
    '',
    `Settings: ${settingsLine(r)}. Run took ${r.seconds} s.`,
    '',
    '| Figure | Service | Reference (same run) | Ratio |',
    '|---|---|---|---|',
    ...rows.map((row) => `| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
    `CPU seconds per install, by process, during the lifecycle figure: ${cpuLine(r.lifecycle.cpuSecondsPerInstall)}; ` +
      `while adding the last ${r.scale.added} installations of the scale figure: ${cpuLine(r.scale.cpuSecondsPerInstall)}.`,
    '',
  ].join('\n');
}

/** A fixed-width table for stdout. */
export function toText(r: BenchResult): string {
  const rows = [['Figure', 'Service', 'Reference (same run)', 'Ratio'], ...summaryRows(r)];
  const widths = [0, 1, 2, 3].map((c) => Math.min(70, Math.max(...rows.map((row) => (row[c] ?? '').length))));
  const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ');
  return [
    `Machine: ${describeMachine(r.machine)}`,
    `Settings: ${settingsLine(r)}`,
    '',
    line(rows[0]!),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
    '',
  ].join('\n');
}

/** Writes bench.json, bench.md and bench.svg into `dir`; returns their paths. */
export function writeResults(dir: string, r: BenchResult): { json: string; md: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const files = { json: path.join(dir, 'bench.json'), md: path.join(dir, 'bench.md'), svg: path.join(dir, 'bench.svg') };
  writeFileSync(files.json, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(files.md, toMarkdown(r));
  writeFileSync(files.svg, toChart(r));
  return files;
}
