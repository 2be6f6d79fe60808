import { randomBytes } from 'node:crypto';
import { postCallback } from '../test/support/callback-client';
import type { ApprovalTracker } from './approvals';
import { round } from './ingest';
import { keepAliveAgent, runPool, type Measured } from './load';
import { cpuSnapshot } from './machine';
import type { BenchSystem } from './system';

export interface LifecycleResult {
  /** Installs from the signed event to the approval recorded at the simulator, C in flight at a time. */
  service: Measured;
  /** Workflows of three no-op activities (start to result), C in flight, on a worker with the same settings. */
  reference: Measured;
  /** service / reference, per second. */
  ratio: number;
  /** service p50 / reference p50, event → approval against start → result (the target: ≤ 1.6). */
  p50Ratio: number;
  /** CPU seconds per install spent by each process during the service run. */
  cpuSecondsPerInstall: Record<string, number>;
  installationIds: string[];
}

/** The processes whose CPU and memory the bench reads. */
export function processPids(sys: BenchSystem): Record<string, number | undefined> {
  const pids: Record<string, number | undefined> = {
    temporal: sys.temporal.pid(),
    ferretdb: sys.mongo.pid(),
    web: sys.web.pid,
  };
  sys.workers.forEach((w, i) => (pids[sys.workers.length === 1 ? 'worker' : `worker${i + 1}`] = w.pid));
  return pids;
}

/** The service's processes and servers, and this one (the simulator and the load). */
export function cpuPids(sys: BenchSystem): Record<string, number | undefined> {
  // A worker in this process (BENCH_WORKERS=0) is counted once, with the simulator and the load.
  const pids = Object.entries(processPids(sys)).filter(([, pid]) => pid !== process.pid);
  const inProcess = sys.workers.some((w) => w.pid === process.pid);
  return { ...Object.fromEntries(pids), [inProcess ? 'worker+simulator+load' : 'simulator+load']: process.pid };
}

const strip = ({ errors: _errors, ...m }: Measured & { errors: string[] }): Measured => m;

/**
 * (2) Lifecycle: N installs, each from its signed event to its approval at the
 * simulator, with C in flight; beside N three-no-op-activity workflows with C in flight.
 */
export async function measureLifecycle(
  sys: BenchSystem,
  approvals: ApprovalTracker,
  n: number,
  concurrency: number,
  timeoutMs: number,
): Promise<LifecycleResult> {
  const installs = Array.from({ length: n }, () => sys.simulator.createInstallation().event);
  const agent = keepAliveAgent(concurrency);
  const pids = cpuPids(sys);
  const before = cpuSnapshot(pids);
  let service: Measured & { errors: string[] };
  try {
    service = await runPool(
      n,
      concurrency,
      async (i) => {
        const event = installs[i]!;
        const raw = JSON.stringify(event);
        const res = await postCallback(sys.web.callbackUrl, raw, { signature: sys.simulator.signBody(raw), agent, timeoutMs: 30_000 });
        if (res.status !== 200) throw new Error(`answered ${res.status}: ${res.text.slice(0, 200)}`);
        await approvals.wait(event.data.installation_id, timeoutMs);
      },
      timeoutMs * 4,
    );
  } finally {
    agent.destroy();
  }
  const after = cpuSnapshot(pids);
  if (service.failed > 0) console.warn(`bench: lifecycle: ${service.failed} of ${n} failed, e.g. ${service.errors.join('; ')}`);
  const cpuSecondsPerInstall = Object.fromEntries(
    Object.keys(pids).map((k) => [k, round(((after[k] ?? 0) - (before[k] ?? 0)) / Math.max(1, service.ok), 4)]),
  );

  const runId = randomBytes(3).toString('hex');
  await runPool(Math.min(20, n), concurrency, (i) =>
    sys.client.workflow.execute('threeNoops', { workflowId: `bench-noops-${runId}-warmup-${i}`, taskQueue: sys.benchTaskQueue }),
  );
  const reference = await runPool(
    n,
    concurrency,
    (i) => sys.client.workflow.execute('threeNoops', { workflowId: `bench-noops-${runId}-${i}`, taskQueue: sys.benchTaskQueue }),
    timeoutMs * 4,
  );
  if (reference.failed > 0) console.warn(`bench: three no-ops: ${reference.failed} of ${n} failed, e.g. ${reference.errors.join('; ')}`);
  return {
    service: strip(service),
    reference: strip(reference),
    ratio: round(service.perSecond / reference.perSecond),
    p50Ratio: round(service.latencyMs.p50 / reference.latencyMs.p50),
    cpuSecondsPerInstall,
    installationIds: installs.map((e) => e.data.installation_id),
  };
}
