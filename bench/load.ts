import http from 'node:http';

/** Latency summary in milliseconds. */
export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Throughput and latency of one measured run. */
export interface Measured {
  count: number;
  ok: number;
  failed: number;
  seconds: number;
  perSecond: number;
  latencyMs: Latency;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? 0;
}

export function latencyOf(samplesMs: readonly number[]): Latency {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const r = (n: number) => Math.round(n * 100) / 100;
  return { p50: r(percentile(sorted, 50)), p95: r(percentile(sorted, 95)), p99: r(percentile(sorted, 99)), max: r(sorted.at(-1) ?? 0) };
}

/**
 * Runs `task(i)` for i in [0, count) with at most `concurrency` at once and measures
 * each one's duration. A task that throws counts as failed; its time is not sampled.
 * The whole run is bounded by `deadlineMs` (tasks not started by then are skipped).
 */
export async function runPool(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
  deadlineMs = 30 * 60_000,
): Promise<Measured & { errors: string[] }> {
  const { samplesMs: _samples, ...measured } = await runPoolSampled(count, concurrency, task, deadlineMs);
  return measured;
}

/** `runPool`, keeping every sample (for `mergeRuns`). */
export async function runPoolSampled(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
  deadlineMs = 30 * 60_000,
): Promise<Measured & { errors: string[]; samplesMs: number[] }> {
  const samples: number[] = [];
  const errors: string[] = [];
  let next = 0;
  let failed = 0;
  const stopAt = Date.now() + deadlineMs;
  const started = process.hrtime.bigint();
  const lane = async () => {
    while (next < count && Date.now() < stopAt) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      try {
        await task(i);
        samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch (err) {
        failed += 1;
        if (errors.length < 5) errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Said here for every figure: those skipped count as neither ok nor failed, so the rate would be over fewer, silently.
  if (next < count)
    console.warn(`bench: ${count - next} of ${count} tasks not started before the run's deadline: its figures are over ${next}`);
  return {
    count,
    ok: samples.length,
    failed,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: Math.round((samples.length / seconds) * 10) / 10,
    latencyMs: latencyOf(samples),
    errors,
    samplesMs: samples,
  };
}

/**
 * One measurement from several runs of the same kind (interleaved with other kinds'):
 * counts and seconds added, the rate over the runs' own time, latencies from every sample.
 */
export function mergeRuns(parts: readonly (Measured & { errors: string[]; samplesMs: number[] })[]): Measured & { errors: string[] } {
  const sum = (f: (m: Measured) => number) => parts.reduce((a, m) => a + f(m), 0);
  const seconds = sum((m) => m.seconds);
  const ok = sum((m) => m.ok);
  return {
    count: sum((m) => m.count),
    ok,
    failed: sum((m) => m.failed),
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: seconds > 0 ? Math.round((ok / seconds) * 10) / 10 : 0,
    latencyMs: latencyOf(parts.flatMap((m) => m.samplesMs)),
    errors: parts.flatMap((m) => m.errors).slice(0, 5),
  };
}

/**
 * A keep-alive HTTP client for the load: one socket per concurrent lane. A socket idle for
 * `idleMs` is closed here, before the servers' 5 s keep-alive closes it: the kinds of a figure
 * run in turn, so a kind's sockets idle through the others' chunks, and a request sent on a
 * socket just as the server closes it failed with "socket hang up" (Node 20's agent does not
 * read the server's keep-alive hint).
 */
export function keepAliveAgent(concurrency: number, idleMs = 4_000): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency, timeout: idleMs });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
