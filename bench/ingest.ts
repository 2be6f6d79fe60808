import { randomBytes } from 'node:crypto';
import { postCallback } from '../test/support/callback-client';
import { keepAliveAgent, runPool, type Measured } from './load';
import { meanStepMs, readCallbackSteps } from './callback-steps';
import { measureIngestFloor } from './ingest-floor';
import { cpuSnapshot, perOp, round } from './machine';
import type { BenchSystem } from './system';

export interface IngestResult {
  /** Signed `app.installed` events POSTed to the callback: acknowledgements. */
  service: Measured;
  /** Bare `signalWithStart` calls from a Node client to the same server (a signal waiter on the bench's queue). */
  bareSignalWithStart: Measured;
  /** The same bodies POSTed to a no-op Koa route in a process of its own. */
  noopKoa: Measured;
  /** service / bareSignalWithStart, in acknowledgements per second. */
  ratio: number;
  /** CPU seconds per acknowledged event by process during the service run (no worker runs then). */
  cpuSecondsPerEvent: Record<string, number>;
  /** CPU seconds per bare signalWithStart by process during its run (the bench process is the client). */
  bareCpuSecondsPerSignalWithStart: Record<string, number>;
  /**
   * The floor (bench/ingest-floor.ts): the same events through a server that authenticates, validates
   * and hands over as the callback does, with no store; run after the service, the same way.
   */
  floor: Measured;
  /** floor / bareSignalWithStart, in acknowledgements per second: the ratio with no store at all. */
  floorRatio: number;
  /** service / floor, in acknowledgements per second: what the durable inbox costs. */
  ratioVsFloor: number;
  floorCpuSecondsPerEvent: Record<string, number>;
  /**
   * Mean milliseconds per acknowledged event of each step inside the web process during the
   * service run (`appconnect_callback_step_duration_seconds`): store, handover, mark.
   */
  callbackStepsMs: Record<string, number>;
  /** Installation ids whose install was acknowledged (they are installed once the workers run). */
  installationIds: string[];
}

const strip = ({ errors: _errors, ...m }: Measured & { errors: string[] }): Measured => m;

function check(name: string, m: Measured & { errors: string[] }): void {
  if (m.failed > 0) console.warn(`bench: ${name}: ${m.failed} of ${m.count} failed, e.g. ${m.errors.join('; ')}`);
}

/**
 * (1) Ingest: N signed install events (distinct installations) at concurrency C, beside
 * N bare signal-with-start calls and N requests to a no-op route at the same concurrency.
 * No worker polls during this figure: it measures the path up to the acknowledgement.
 */
export async function measureIngest(sys: BenchSystem, n: number, concurrency: number): Promise<IngestResult> {
  if (!sys.noop) throw new Error('the ingest figure needs the no-op server');
  const warmup = Math.min(20, n);
  const installs = Array.from({ length: n + warmup }, () => sys.simulator.createInstallation().event);
  const bodies = installs.map((e) => {
    const raw = JSON.stringify(e);
    return { raw, signature: sys.simulator.signBody(raw) };
  });
  const agent = keepAliveAgent(concurrency);
  const post = (url: string, offset: number) => async (i: number) => {
    const b = bodies[offset + i]!;
    const res = await postCallback(url, b.raw, { signature: b.signature, agent, timeoutMs: 30_000 });
    if (res.status !== 200) throw new Error(`answered ${res.status}: ${res.text.slice(0, 200)}`);
  };
  const runId = randomBytes(3).toString('hex');
  const signalWithStart = (prefix: string) => async (i: number) => {
    await sys.client.workflow.signalWithStart('signalWaiter', {
      workflowId: `bench-sws-${runId}-${prefix}-${i}`,
      taskQueue: sys.benchTaskQueue,
      signal: 'event',
      signalArgs: [{ eventId: `${prefix}-${i}` }],
    });
  };

  try {
    // Warm-ups (connections, JIT, first writes), not measured.
    await runPool(warmup, concurrency, post(sys.noop.url, n));
    await runPool(warmup, concurrency, signalWithStart('warmup'));
    await runPool(warmup, concurrency, post(sys.web.callbackUrl, n));

    const noopKoa = await runPool(n, concurrency, post(sys.noop.url, 0));
    check('no-op Koa route', noopKoa);
    const pids = { temporal: sys.temporal.pid(), ferretdb: sys.mongo.pid(), web: sys.web.pid, 'simulator+load': process.pid };
    const bareCpu = cpuSnapshot(pids);
    const bare = await runPool(n, concurrency, signalWithStart('run'));
    const bareCpuSecondsPerSignalWithStart = perOp(bareCpu, cpuSnapshot(pids), bare.ok);
    check('bare signalWithStart', bare);
    const stepsBefore = await readCallbackSteps(sys.web.adminUrl);
    const serviceCpu = cpuSnapshot(pids);
    const service = await runPool(n, concurrency, post(sys.web.callbackUrl, 0));
    const cpuSecondsPerEvent = perOp(serviceCpu, cpuSnapshot(pids), service.ok);
    const callbackStepsMs = meanStepMs(stepsBefore, await readCallbackSteps(sys.web.adminUrl));
    check('ingest', service);
    const { floor, floorCpuSecondsPerEvent } = await measureIngestFloor(sys, n, concurrency);
    return {
      service: strip(service),
      bareSignalWithStart: strip(bare),
      noopKoa: strip(noopKoa),
      ratio: round(service.perSecond / bare.perSecond),
      cpuSecondsPerEvent,
      bareCpuSecondsPerSignalWithStart,
      callbackStepsMs,
      floor,
      floorRatio: round(floor.perSecond / bare.perSecond),
      ratioVsFloor: round(service.perSecond / floor.perSecond),
      floorCpuSecondsPerEvent,
      installationIds: installs.map((e) => e.data.installation_id),
    };
  } finally {
    agent.destroy();
  }
}

// Where the other figures have always imported them from.
export { perOp, round } from './machine';
