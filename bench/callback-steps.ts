/** Sum and count of each step of `appconnect_callback_step_duration_seconds` that succeeded (src/web/metrics.ts). */
export type StepTotals = Record<string, { sum: number; count: number }>;

/** Steps that succeeded: a failed one (a refused store, Temporal down) is not part of an acknowledgement's time. */
const STEP_LINE = /^appconnect_callback_step_duration_seconds_(sum|count)\{step="(\w+)",outcome="ok"\} (\S+)$/gm;

/** Reads the step totals from the web process's admin listener (`GET /metrics`). */
export async function readCallbackSteps(adminUrl: string): Promise<StepTotals> {
  const res = await fetch(`${adminUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${adminUrl}/metrics answered ${res.status}`);
  return parseCallbackSteps(await res.text());
}

export function parseCallbackSteps(text: string): StepTotals {
  const totals: StepTotals = {};
  for (const [, kind, step, value] of text.matchAll(STEP_LINE)) {
    const t = (totals[step!] ??= { sum: 0, count: 0 });
    t[kind as 'sum' | 'count'] = Number(value);
  }
  return totals;
}

/**
 * Mean milliseconds per accepted event of each step between two readings: where the
 * acknowledgement's time goes (store, handover, mark), measured inside the web process.
 */
export function meanStepMs(before: StepTotals, after: StepTotals): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([step, a]) => {
      const b = before[step] ?? { sum: 0, count: 0 };
      const count = a.count - b.count;
      return [step, count > 0 ? Math.round(((a.sum - b.sum) / count) * 10_000) / 10 : 0];
    }),
  );
}
