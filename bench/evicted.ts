import { postCallback } from '../test/support/callback-client';
import { round } from './ingest';
import { keepAliveAgent, runPool, type Measured } from './load';
import type { BenchSystem } from './system';

export interface EvictedResult {
  /** `app.updated` → its approval at the simulator, for installations whose workflow is not in the worker's cache (it replays its history first). */
  evicted: Measured;
  /** The same, a second update to the same installations, now in the cache. */
  cached: Measured;
  /** evicted p50 / cached p50: what a replay adds to an event. */
  ratio: number;
  /** The worker's cache size while measured. */
  maxCachedWorkflows: number;
}

const strip = ({ errors: _errors, ...m }: Measured & { errors: string[] }): Measured => m;

/** Waits for an update's approval: the first `approve` state call of the installation after the waiter is set. */
function approvalsAfter(sys: BenchSystem) {
  const waiters = new Map<string, () => void>();
  const off = sys.simulator.onCall((call) => {
    if (call.route !== 'installationState' || call.status !== 200 || !call.installationId) return;
    if ((call.body as { state?: string } | undefined)?.state !== 'approve') return;
    const w = waiters.get(call.installationId);
    if (w) {
      waiters.delete(call.installationId);
      w();
    }
  });
  const wait = (id: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(id);
        reject(new Error(`update of ${id} not approved within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  return { wait, close: off };
}

/**
 * (Evicted workflow) Restarts the service's workers, so that no installation workflow
 * is in a cache, then sends one `app.updated` to each of `ids` (C at a time) and times
 * it to its approval: the worker first replays the workflow's history. A second update
 * to the same installations, now cached, is the reference.
 */
export async function measureEvicted(
  sys: BenchSystem,
  ids: readonly string[],
  concurrency: number,
  maxCachedWorkflows: number,
  timeoutMs: number,
): Promise<EvictedResult> {
  const count = sys.workers.length;
  for (const w of [...sys.workers]) await w.stop();
  for (let i = 0; i < Math.max(1, count); i += 1) await sys.startWorker();
  const approvals = approvalsAfter(sys);
  const agent = keepAliveAgent(concurrency);
  const update = (list: readonly string[]) => async (i: number) => {
    const id = list[i]!;
    const event = sys.simulator.updateUsers(id, { add: 1 });
    const raw = JSON.stringify(event);
    const approved = approvals.wait(id, timeoutMs);
    const res = await postCallback(sys.web.callbackUrl, raw, { signature: sys.simulator.signBody(raw), agent, timeoutMs: 30_000 });
    if (res.status !== 200) throw new Error(`answered ${res.status}: ${res.text.slice(0, 200)}`);
    await approved;
  };
  try {
    // Warm-up (the new process's JIT, connections) on installations not measured; they replay too.
    const warm = ids.slice(0, Math.min(5, Math.floor(ids.length / 3)));
    const measured = ids.slice(warm.length);
    await runPool(warm.length, concurrency, update(warm), timeoutMs);
    const evicted = await runPool(measured.length, concurrency, update(measured), timeoutMs);
    const cached = await runPool(measured.length, concurrency, update(measured), timeoutMs);
    for (const [name, m] of [
      ['evicted', evicted],
      ['cached', cached],
    ] as const) {
      if (m.failed > 0) console.warn(`bench: ${name} updates: ${m.failed} of ${m.count} failed, e.g. ${m.errors.join('; ')}`);
    }
    return {
      evicted: strip(evicted),
      cached: strip(cached),
      ratio: round(evicted.latencyMs.p50 / cached.latencyMs.p50),
      maxCachedWorkflows,
    };
  } finally {
    agent.destroy();
    approvals.close();
  }
}
