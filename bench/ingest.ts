import { randomBytes } from 'node:crypto';
import { parseEvent, toLifecycleEvent } from '../src/events/schemas';
import { HAND_OVER_TIMEOUT_MS, startInstallation } from '../src/handover/start';
import type { LifecycleEvent } from '../workflows/definitions';
import { workflowIdFor } from '../workflows/definitions';
import { postCallback } from '../test/support/callback-client';
import { keepAliveAgent, mergeRuns, runPool, runPoolSampled, type Measured } from './load';
import { meanStepMs, readCallbackSteps } from './callback-steps';
import { startIngestFloor, terminateAll } from './ingest-floor';
import { cpuSnapshot, perOp, round } from './machine';
import type { BenchSystem } from './system';

export interface IngestResult {
  /** Signed `app.installed` events POSTed to the callback: acknowledgements. */
  service: Measured;
  /**
   * Bare `signalWithStart` calls from a Node client to the same server, in turn with the service's: the hand-over's own
   * request (`startInstallation`: the same arguments, event, summary, details and reuse policy) for new installations,
   * to a queue no worker polls. Before 2026-12-06 (fortieth session) a 20-byte signal to a waiter on the bench's queue:
   * a smaller request than the one it stands for, which biased every ratio against it low.
   */
  bareSignalWithStart: Measured;
  /** The same bodies POSTed to a no-op Koa route in a process of its own. */
  noopKoa: Measured;
  /** service / bareSignalWithStart, in acknowledgements per second. */
  ratio: number;
  /** service p99 / bareSignalWithStart p99 (the target: ≤ 1.5). */
  p99Ratio: number;
  /** CPU seconds per acknowledged event by process during the service run (no worker runs then). */
  cpuSecondsPerEvent: Record<string, number>;
  /** CPU seconds per bare signalWithStart by process during its run (the bench process is the client). */
  bareCpuSecondsPerSignalWithStart: Record<string, number>;
  /**
   * The floor (bench/ingest-floor.ts): the same events through a server that authenticates, validates
   * and hands over as the callback does, with no store; in turn with the service and the bare calls.
   */
  floor: Measured;
  /** floor / bareSignalWithStart, in acknowledgements per second: the ratio with no store at all. */
  floorRatio: number;
  /** service / floor, in acknowledgements per second: what the durable inbox costs. */
  ratioVsFloor: number;
  floorCpuSecondsPerEvent: Record<string, number>;
  /**
   * The durable floor: the floor with one store write before the hand-over (the event's record, its
   * credentials sealed in it), the least a callback that stores each event before answering can do.
   */
  durableFloor: Measured;
  /** durableFloor / bareSignalWithStart: the best ratio a callback with a durable inbox reaches here. */
  durableFloorRatio: number;
  /** service / durableFloor: what the inbox costs beyond its one necessary write. */
  ratioVsDurableFloor: number;
  durableFloorCpuSecondsPerEvent: Record<string, number>;
  /** The durable floor's records found in the store after its run: one per acknowledged event. */
  durableFloorStored: number;
  /**
   * Mean milliseconds per acknowledged event of each step inside the web process during the
   * service run (`appconnect_callback_step_duration_seconds`): store, handover, mark.
   */
  callbackStepsMs: Record<string, number>;
  /** The measured kinds (bare, service, floor, durable floor) ran in this many chunks each, taken in turn. */
  chunks: number;
  /** Installation ids whose install was acknowledged (they are installed once the workers run). */
  installationIds: string[];
}

const strip = ({ errors: _errors, ...m }: Measured & { errors: string[] }): Measured => m;

function check(name: string, m: Measured & { errors: string[] }): void {
  if (m.failed > 0) console.warn(`bench: ${name}: ${m.failed} of ${m.count} failed, e.g. ${m.errors.join('; ')}`);
}

const KINDS = ['bare', 'service', 'floor', 'durable'] as const;
type Kind = (typeof KINDS)[number];

/**
 * Measured chunks of each kind, taken in turn: one per kind, so that each kind runs once in each
 * position. (More chunks would add more partly filled pools at chunk ends, which cost the slower kind
 * more.)
 */
const CHUNKS = KINDS.length;

/** The order of the kinds in chunk `c`: rotated each chunk, so each kind runs in each position once. */
export function chunkOrder(c: number): Kind[] {
  const k = c % KINDS.length;
  return [...KINDS.slice(k), ...KINDS.slice(0, k)];
}

/** Sizes of `chunks` chunks adding up to `n` (the first ones one larger when it does not divide). */
export function chunkSizes(n: number, chunks: number): number[] {
  const k = Math.max(1, Math.min(chunks, n));
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

/**
 * (1) Ingest: N signed install events (distinct installations) at concurrency C, beside
 * N bare signal-with-start calls and the floor (the same events through a bare callback
 * server), in chunks taken in turn (`chunkOrder`): the machine's drift during the figure
 * (a server's caches, its files growing) falls on every kind alike. N requests to a no-op
 * route are measured first. No worker polls during this figure: it measures the path up
 * to the acknowledgement.
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
  const bareTarget = { client: sys.client, taskQueue: `bench-bare-sws-${randomBytes(3).toString('hex')}` };
  const bareEvents: LifecycleEvent[] = Array.from({ length: n + warmup }, () => {
    const parsed = parseEvent(JSON.parse(JSON.stringify(sys.simulator.createInstallation().event)));
    if (!parsed.ok) throw new Error(`bench: a simulator event does not parse: ${parsed.error.field}: ${parsed.error.message}`);
    return toLifecycleEvent(parsed.event);
  });
  const signalWithStart = (offset: number) => (i: number) =>
    startInstallation(bareTarget, bareEvents[offset + i]!, HAND_OVER_TIMEOUT_MS.callback);

  const floor = await startIngestFloor(sys, n, concurrency);
  const durable = await startIngestFloor(sys, n, concurrency, { durable: true }).catch(async (err: unknown) => {
    await floor.stop();
    throw err;
  });
  try {
    // Warm-ups (connections, JIT, first writes), not measured; the floor's ran as it started.
    await runPool(warmup, concurrency, post(sys.noop.url, n));
    await runPool(warmup, concurrency, signalWithStart(n));
    await runPool(warmup, concurrency, post(sys.web.callbackUrl, n));

    const noopKoa = await runPool(n, concurrency, post(sys.noop.url, 0));
    check('no-op Koa route', noopKoa);
    const pids = { temporal: sys.temporal.pid(), ferretdb: sys.mongo.pid(), web: sys.web.pid, 'simulator+load': process.pid };
    const pidsOf: Record<Kind, Record<string, number | undefined>> = {
      bare: pids,
      service: pids,
      floor: { temporal: sys.temporal.pid(), web: floor.pid, 'simulator+load': process.pid },
      durable: { ...pids, web: durable.pid },
    };
    const tasks: Record<Kind, (i: number) => Promise<void>> = {
      bare: signalWithStart(0),
      service: post(sys.web.callbackUrl, 0),
      floor: floor.post,
      durable: durable.post,
    };
    const runs: Record<Kind, Awaited<ReturnType<typeof runPoolSampled>>[]> = { bare: [], service: [], floor: [], durable: [] };
    const cpu: Record<Kind, Record<string, number>> = { bare: {}, service: {}, floor: {}, durable: {} };
    const stepsBefore = await readCallbackSteps(sys.web.adminUrl);
    let offset = 0;
    for (const [c, size] of chunkSizes(n, CHUNKS).entries()) {
      for (const kind of chunkOrder(c)) {
        const which = pidsOf[kind];
        const before = cpuSnapshot(which);
        const from = offset;
        runs[kind].push(await runPoolSampled(size, concurrency, (i) => tasks[kind](from + i)));
        const after = cpuSnapshot(which);
        for (const k of Object.keys(after)) cpu[kind][k] = (cpu[kind][k] ?? 0) + (after[k] ?? 0) - (before[k] ?? 0);
      }
      offset += size;
    }
    const callbackStepsMs = meanStepMs(stepsBefore, await readCallbackSteps(sys.web.adminUrl));
    const [bare, service, floorRun, durableRun] = [
      mergeRuns(runs.bare),
      mergeRuns(runs.service),
      mergeRuns(runs.floor),
      mergeRuns(runs.durable),
    ];
    check('bare signalWithStart', bare);
    check('ingest', service);
    check('bare callback', floorRun);
    check('durable bare callback', durableRun);
    return {
      service: strip(service),
      bareSignalWithStart: strip(bare),
      noopKoa: strip(noopKoa),
      ratio: round(service.perSecond / bare.perSecond),
      p99Ratio: round(service.latencyMs.p99 / bare.latencyMs.p99),
      cpuSecondsPerEvent: perOp({}, cpu.service, service.ok),
      bareCpuSecondsPerSignalWithStart: perOp({}, cpu.bare, bare.ok),
      callbackStepsMs,
      floor: strip(floorRun),
      floorRatio: round(floorRun.perSecond / bare.perSecond),
      ratioVsFloor: round(service.perSecond / floorRun.perSecond),
      floorCpuSecondsPerEvent: perOp({}, cpu.floor, floorRun.ok),
      durableFloor: strip(durableRun),
      durableFloorRatio: round(durableRun.perSecond / bare.perSecond),
      ratioVsDurableFloor: round(service.perSecond / durableRun.perSecond),
      durableFloorCpuSecondsPerEvent: perOp({}, cpu.durable, durableRun.ok),
      durableFloorStored: await durable.stored(),
      chunks: chunkSizes(n, CHUNKS).length,
      installationIds: installs.map((e) => e.data.installation_id),
    };
  } finally {
    agent.destroy();
    await Promise.all([
      floor.stop(),
      durable.stop(),
      terminateAll(
        sys,
        bareEvents.map((e) => workflowIdFor(e.installationId)),
      ),
    ]);
  }
}

// Where the other figures have always imported them from.
export { perOp, round } from './machine';
