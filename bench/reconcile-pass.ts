import { runBenchEntry } from './entry';
import { intArg } from './options';
import { measureReconciliation, steadyStateChecks } from './reconcile';
import { seedActiveInstallations } from './seed';
import { startBenchSystem, type BenchSystem } from './system';

/**
 * The reconciliation figure alone (`node dist/bench/reconcile-pass.js --scale 2000`):
 * seeds `--scale` active installations (bench/seed.ts), then times `--passes` passes and
 * counts the Talkdesk installation reads of each: the first right after the seeding (the
 * full bench's `scale.reconciliation.burst`), each later one after every last read is
 * spread as a running system's just before a pass (`steadyStateChecks`; the full bench's
 * `scale.reconciliation`); with `--burst N`, the first too, plus N due at once. The full bench measures them after its other figures; this
 * reaches them in minutes on a busy machine.
 */
async function main(argv: string[]): Promise<void> {
  const scale = intArg(argv, 'scale', 'BENCH_SCALE', 2_000, 1);
  const passes = intArg(argv, 'passes', 'BENCH_PASSES', 2, 1);
  // --burst N: the first pass finds the steady state plus N due at once (a mass install of N a day later).
  const burst = intArg(argv, 'burst', 'BENCH_BURST', 0, 0);
  const sys = await startBenchSystem({ workerProcesses: 1, tuning: {}, web: 'process', logLevel: 'info' });
  try {
    const seeded = await seedActiveInstallations(sys, scale, 8, 30 * 60_000);
    console.log(`seeded ${seeded.seeded} in ${seeded.writeSeconds}+${seeded.startSeconds} s (${seeded.failed} failed)`);
    for (let i = 1; i <= passes; i += 1) {
      const steady = i > 1 || burst > 0 ? await steadyStateChecks(sys, i === 1 ? burst : 0) : undefined;
      const before = sys.simulator.calls.filter((c) => c.route === 'installation').length;
      const pass = await measureReconciliation(sys, 30 * 60_000);
      const gets = sys.simulator.calls.filter((c) => c.route === 'installation').length - before;
      const activities = pass.available ? await activitySeconds(sys, pass.workflowId) : {};
      const kind = !steady ? 'first after seeding' : `steady state${i === 1 ? ` and ${burst} more` : ''} (${steady.due} due by the spread)`;
      console.log(JSON.stringify({ pass: i, kind, scale, talkdeskGets: gets, activities, ...pass }));
    }
  } finally {
    await sys.stop();
  }
}

/** Seconds each kind of activity of the pass ran (started to completed), summed, and the longest. */
async function activitySeconds(sys: BenchSystem, workflowId: string): Promise<Record<string, { count: number; sum: number; max: number }>> {
  const events = (await sys.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const ms = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  const out: Record<string, { count: number; sum: number; max: number }> = {};
  for (const e of events) {
    const done = e.activityTaskCompletedEventAttributes;
    if (!done) continue;
    const name = byId.get(String(done.scheduledEventId))?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
    const started = byId.get(String(done.startedEventId));
    const s = started ? (ms(e) - ms(started)) / 1000 : 0;
    const o = (out[name] ??= { count: 0, sum: 0, max: 0 });
    o.count += 1;
    o.sum = Math.round((o.sum + s) * 1000) / 1000;
    o.max = Math.max(o.max, s);
  }
  return out;
}

// Ctrl-C or SIGTERM exit through the hooks that stop its servers (a plain kill left them running).
runBenchEntry(() => main(process.argv.slice(2)), 'reconcile-pass');
