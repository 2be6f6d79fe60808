import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderChart, type ChartPanel } from './chart';
import type { IngestResult } from './ingest';
import type { LifecycleResult } from './lifecycle';
import type { Measured } from './load';
import { describeMachine, type MachineInfo } from './machine';
import type { ScaleResult } from './scale';

export interface TuningValue {
  value: number;
  source: 'env' | 'SDK default';
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
  ingest: Omit<IngestResult, 'installationIds'>;
  lifecycle: Omit<LifecycleResult, 'installationIds'> & {
    /** The ingest's installs, queued while no worker ran, drained once the workers started. */
    backlog: { installs: number; approved: number; seconds: number; perSecond: number };
  };
  scale: ScaleResult;
}

/** ` (scanned N, E errors)` from a reconciliation report, when it has those fields. */
function reconcileCounts(result: unknown): string {
  const r = result as { scanned?: unknown; counts?: { errors?: unknown } } | undefined;
  if (typeof r?.scanned !== 'number') return '';
  return ` (scanned ${r.scanned}${typeof r.counts?.errors === 'number' ? `, ${r.counts.errors} errors` : ''})`;
}

const cpuLine = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

const lat = (m: Measured) => `${m.latencyMs.p50} / ${m.latencyMs.p95} / ${m.latencyMs.p99}`;

/** Rows of the summary: figure, service, reference, ratio. */
export function summaryRows(r: BenchResult): string[][] {
  const c = r.settings.concurrency;
  const i = r.ingest;
  const l = r.lifecycle;
  const s = r.scale;
  const rec = s.reconciliation;
  const rows: string[][] = [
    [
      `Ingest: acks/s (N=${r.settings.n}, C=${c})`,
      `${i.service.perSecond}`,
      `bare signalWithStart ${i.bareSignalWithStart.perSecond}; no-op Koa ${i.noopKoa.perSecond}`,
      `${i.ratio}`,
    ],
    [
      'Ingest: latency p50 / p95 / p99 (ms)',
      lat(i.service),
      `bare signalWithStart ${lat(i.bareSignalWithStart)}; no-op Koa ${lat(i.noopKoa)}`,
      '',
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
      '',
    ],
    ['Lifecycle: p95 event → approval (ms)', `${l.service.latencyMs.p95}`, `3 no-op activities: ${l.reference.latencyMs.p95}`, ''],
    [
      'Lifecycle: queued installs drained (installs/s)',
      `${l.backlog.perSecond}`,
      `${l.backlog.approved} of ${l.backlog.installs} in ${l.backlog.seconds} s`,
      '',
    ],
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
    rows.push([`Scale: RSS ${name} (MiB)`, `${s.rssMiB.atScale[name]}`, `at start: ${s.rssMiB.baseline[name] ?? 'n/a'}`, '']);
  }
  rows.push([
    'Scale: one reconciliation pass (s)',
    rec.available ? (rec.error ? `failed after ${rec.seconds} (${rec.error})` : `${rec.seconds}`) : 'reconciliation: not available',
    rec.available ? `over ${s.active} installations${reconcileCounts(rec.result)}` : rec.note,
    '',
  ]);
  return rows;
}

function settingsLine(r: BenchResult): string {
  const t = r.settings.tuning;
  const v = (x: TuningValue) => `${x.value}${x.source === 'env' ? '' : ' (SDK default)'}`;
  return (
    `worker processes: ${r.settings.workerProcesses === 0 ? 'one, in the bench process' : r.settings.workerProcesses}; ` +
    `maxCachedWorkflows ${v(t.maxCachedWorkflows)}, maxConcurrentActivityTaskExecutions ${v(t.maxConcurrentActivityTaskExecutions)}, ` +
    `maxConcurrentWorkflowTaskExecutions ${v(t.maxConcurrentWorkflowTaskExecutions)}` +
    (t.maxConcurrentWorkflowTaskPolls ? `, maxConcurrentWorkflowTaskPolls ${v(t.maxConcurrentWorkflowTaskPolls)}` : '') +
    (t.maxConcurrentActivityTaskPolls ? `, maxConcurrentActivityTaskPolls ${v(t.maxConcurrentActivityTaskPolls)}` : '') +
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

export function toChart(r: BenchResult): string {
  const i = r.ingest;
  const l = r.lifecycle;
  const s = r.scale;
  const panels: ChartPanel[] = [
    {
      title: `Ingest: acknowledgements per second (N=${r.settings.n}, C=${r.settings.concurrency}) — ratio ${i.ratio}`,
      unit: '/s',
      bars: [
        { label: 'signed app.installed → callback', value: i.service.perSecond, kind: 'service' },
        { label: 'bare signalWithStart', value: i.bareSignalWithStart.perSecond, kind: 'reference' },
        { label: 'no-op Koa route', value: i.noopKoa.perSecond, kind: 'reference' },
      ],
      scaleTo: ['signed app.installed → callback', 'bare signalWithStart'],
    },
    {
      title: 'Ingest: latency (ms, lower is better)',
      unit: 'ms',
      bars: (['p50', 'p95', 'p99'] as const).flatMap((p) => [
        { label: `callback ${p}`, value: i.service.latencyMs[p], kind: 'service' as const },
        { label: `bare signalWithStart ${p}`, value: i.bareSignalWithStart.latencyMs[p], kind: 'reference' as const },
      ]),
    },
    {
      title: `Lifecycle: installs per second, event → approval (C=${r.settings.concurrency} in flight) — ratio ${l.ratio}`,
      unit: '/s',
      bars: [
        { label: 'install (event → approval)', value: l.service.perSecond, kind: 'service' },
        { label: 'workflow of 3 no-op activities', value: l.reference.perSecond, kind: 'reference' },
      ],
    },
    {
      title: 'Lifecycle: median time (ms, lower is better)',
      unit: 'ms',
      bars: [
        { label: 'install: event → approval', value: l.service.latencyMs.p50, kind: 'service' },
        { label: '3 no-op activities: start → result', value: l.reference.latencyMs.p50, kind: 'reference' },
      ],
    },
    {
      title: `Scale: memory with ${s.active} installations active (${s.openWorkflows} workflows open) vs at start (MiB)`,
      unit: 'MiB',
      bars: Object.keys(s.rssMiB.atScale).flatMap((name) => [
        { label: `${name}, ${s.active} active`, value: s.rssMiB.atScale[name], kind: 'service' as const },
        { label: `${name}, at start`, value: s.rssMiB.baseline[name], kind: 'reference' as const },
      ]),
    },
    {
      title: `Scale: one reconciliation pass over ${s.active} installations (s)`,
      unit: 's',
      bars: [
        {
          label: 'reconciliation pass',
          value: s.reconciliation.available && !s.reconciliation.error ? s.reconciliation.seconds : undefined,
          kind: 'service',
        },
      ],
      note: s.reconciliation.available ? s.reconciliation.error : s.reconciliation.note,
    },
  ];
  return renderChart('appconnect-lifecycle benchmark', `${r.startedAt} — ${describeMachine(r.machine)}`, panels);
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
