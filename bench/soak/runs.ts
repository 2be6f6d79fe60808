import type { InstallationView } from '../../workflows/definitions';
import { workflowIdFor } from '../../workflows/definitions';
import type { BenchSystem } from '../system';
import type { SoakInstallation } from './plan';

/** Reading an installation's workflow runs for the soak's end checks (checks.ts). */

type RunsSystem = Pick<BenchSystem, 'client'>;

/** `fn` over `items`, at most `limit` at a time; results in the order of `items`. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** `fn` until it succeeds, at most `attempts` times, waiting a second more after each failure. */
export async function retry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i += 1) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 1_000 * i));
    }
  }
}

export interface RunRef {
  runId: string;
  status: string;
  start: number;
}

/** Every run of each installation's workflow, oldest first, as the visibility store lists them. */
export async function runsOf(sys: RunsSystem, installations: readonly SoakInstallation[]): Promise<Map<string, RunRef[]>> {
  const out = new Map<string, RunRef[]>();
  await mapLimit(installations, 8, async (inst) => {
    const runs = await retry(async () => {
      const list: RunRef[] = [];
      for await (const run of sys.client.workflow.list({ query: `WorkflowId = '${workflowIdFor(inst.installationId)}'` })) {
        list.push({ runId: run.runId, status: run.status.name, start: run.startTime.getTime() });
      }
      return list;
    });
    out.set(
      inst.installationId,
      runs.sort((a, b) => a.start - b.start),
    );
  });
  return out;
}

/**
 * The views of the runs that completed before an installation's latest run, fetched by
 * run id. A run that continued as new is left out: its successor carries its whole state.
 */
export async function earlierViews(sys: RunsSystem, installationId: string, runs: readonly RunRef[]): Promise<InstallationView[]> {
  const views: InstallationView[] = [];
  for (const run of runs.slice(0, -1)) {
    if (run.status !== 'COMPLETED') continue;
    const handle = sys.client.workflow.getHandle(workflowIdFor(installationId), run.runId, { followRuns: false });
    views.push((await retry(() => handle.result())) as InstallationView);
  }
  return views;
}

/**
 * One view of what an installation's runs did, oldest first: their phases and ignored
 * events in run order, the last run's state. An event applied by more than one run
 * (a later run applying again what an earlier one did) is a violation.
 */
export function mergeRuns(runs: readonly InstallationView[]): { view: InstallationView; violations: string[] } {
  const last = runs[runs.length - 1]!;
  const view = { ...last, history: runs.flatMap((r) => r.history), ignoredEvents: runs.flatMap((r) => r.ignoredEvents) };
  const appliedBy = new Map<string, number>();
  for (const run of runs) {
    for (const eventId of new Set(run.history.flatMap((h) => (h.eventId ? [h.eventId] : []))))
      appliedBy.set(eventId, (appliedBy.get(eventId) ?? 0) + 1);
  }
  const violations = [...appliedBy]
    .filter(([, n]) => n > 1)
    .map(([eventId, n]) => `${last.installationId}: event ${eventId} applied by ${n} workflow runs`);
  return { view, violations };
}
