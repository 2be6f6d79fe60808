import { renderChart, type ChartPanel } from './chart';
import { describeMachine } from './machine';
import type { BenchResult } from './report';

/** The SVG chart of a run: one panel per figure, the service beside its reference. */
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
          label: 'reconciliation pass, steady state',
          value: s.reconciliation.available && !s.reconciliation.error ? s.reconciliation.seconds : undefined,
          kind: 'service',
        },
        ...(s.reconciliation.available && s.reconciliation.burst && !s.reconciliation.burst.error
          ? [{ label: 'first pass after the mass install', value: s.reconciliation.burst.seconds, kind: 'service' as const }]
          : []),
      ],
      note: s.reconciliation.available ? s.reconciliation.error : s.reconciliation.note,
    },
  ];
  panels.splice(4, 0, {
    title: 'Lifecycle: CPU seconds per install, by process',
    unit: 's',
    bars: Object.entries(l.cpuSecondsPerInstall).map(([name, v]) => ({ label: name, value: v, kind: 'service' as const })),
  });
  if (r.launch) {
    const la = r.launch;
    panels.splice(5, 0, {
      title: `Launch: p95 launch → first page (ms, lower is better) — ${la.p95Ratio}× the reference (target ≤ 1.5)`,
      unit: 'ms',
      bars: [
        { label: 'sign-in through the web process', value: la.service.latencyMs.p95, kind: 'service' },
        { label: 'the same sign-in through a bare server (floor)', value: la.floor.latencyMs.p95, kind: 'reference' },
        { label: `its ${la.talkdeskRoundTrips} Talkdesk round trips, bare`, value: la.reference.latencyMs.p95, kind: 'reference' },
      ],
    });
  }
  if (r.evicted) {
    const e = r.evicted;
    panels.push({
      title: `Evicted workflow: median update → approval (ms), cache of ${e.maxCachedWorkflows} — ${e.ratio}× in cache`,
      unit: 'ms',
      bars: [
        { label: 'workflow not in cache (replay)', value: e.evicted.latencyMs.p50, kind: 'service' },
        { label: 'workflow in cache', value: e.cached.latencyMs.p50, kind: 'reference' },
      ],
    });
  }
  return renderChart('appconnect-lifecycle benchmark', `${r.startedAt} — ${describeMachine(r.machine)}`, panels);
}
