import type { BenchSystem } from '../system';
import { mulberry32 } from '../../src/simulator/faults';

export interface FaultPlan {
  /** Worker processes kept running. */
  workerProcesses: number;
  /** A worker process is SIGKILLed every [min, max] ms (then replaced), while installations are still starting. */
  killEveryMs: [number, number];
  maxKills: number;
  /** Restart FerretDB once when progress() (the fraction of installations started) reaches this (> 1: never). */
  mongoRestartAt: number;
  /** Restart the Temporal dev server once when progress() reaches this (> 1: never). */
  temporalRestartAt: number;
  /** How long each server stays down. */
  downMs: number;
  seed: number;
}

/**
 * The process faults of the soak: worker processes killed and replaced every few
 * seconds, FerretDB and the Temporal dev server each restarted once, all from one
 * loop so that no two happen at the same instant.
 */
export class FaultController {
  kills = 0;
  workerStarts = 0;
  /** Worker processes that exited without being killed by the soak (e.g. no Temporal at start). */
  unexpectedExits = 0;
  mongoRestart?: { atSeconds: number; tookMs: number };
  temporalRestart?: { atSeconds: number; tookMs: number };
  readonly timeline: string[] = [];
  /** When each SIGKILL was sent (epoch ms). */
  readonly killTimes: number[] = [];
  private readonly killed = new Set<number>();
  private readonly random: () => number;
  private readonly started = Date.now();
  private nextKillAt: number;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private killsEnded = false;
  private readonly starting = new Set<Promise<unknown>>();

  constructor(
    private readonly sys: BenchSystem,
    private readonly plan: FaultPlan,
    private readonly progress: () => number,
  ) {
    this.random = mulberry32(plan.seed);
    this.nextKillAt = Date.now() + this.killDelay();
  }

  private killDelay(): number {
    const [min, max] = this.plan.killEveryMs;
    return min + this.random() * (max - min);
  }

  private at(): string {
    return `${((Date.now() - this.started) / 1000).toFixed(1)} s`;
  }

  private note(what: string): void {
    this.timeline.push(`${this.at()}: ${what}`);
  }

  /** Starts replacement workers until `workerProcesses` are running or starting. */
  private supervise(): void {
    while (this.sys.workers.length < this.plan.workerProcesses && !this.stopping) {
      this.workerStarts += 1;
      const p = this.sys.startWorker().then(
        (w) => {
          void w.process?.exited.then(() => {
            if (!this.killed.has(w.pid)) {
              this.unexpectedExits += 1;
              this.note(`worker ${w.id} (pid ${w.pid}) exited by itself`);
            }
          });
        },
        (err: unknown) => {
          this.unexpectedExits += 1;
          this.note(`a worker failed to start: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
        },
      );
      this.starting.add(p);
      void p.finally(() => this.starting.delete(p));
      // startWorker() lists the new worker in sys.workers before its first await, so the loop ends.
    }
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    // Kills stop once every installation has started. After that they only hit the last ones, and a
    // workflow task that keeps failing gets the server's growing backoff (up to 10 minutes per
    // attempt), so a few could stall past the deadline on their luck alone (docs/performance.md).
    const arriving = this.progress() < 1;
    if (!arriving && !this.killsEnded && this.kills > 0) {
      this.killsEnded = true;
      this.note('every installation has started: no more worker kills');
    }
    if (arriving && now >= this.nextKillAt && this.kills < this.plan.maxKills) {
      const candidates = this.sys.workers.filter((w) => w.ready && w.process?.alive());
      const victim = candidates[Math.floor(this.random() * candidates.length)];
      if (victim) {
        this.kills += 1;
        this.killTimes.push(Date.now());
        this.killed.add(victim.pid);
        this.note(`SIGKILL worker ${victim.id} (pid ${victim.pid})`);
        await victim.kill();
      }
      this.nextKillAt = Date.now() + this.killDelay();
    }
    const p = this.progress();
    if (!this.mongoRestart && p >= this.plan.mongoRestartAt) this.mongoRestart = await this.restart('FerretDB', this.sys.mongo);
    if (!this.temporalRestart && p >= this.plan.temporalRestartAt) {
      this.temporalRestart = await this.restart('Temporal dev server', this.sys.temporal);
    }
    this.supervise();
  }

  /** Stops a server for downMs and starts it again, on the timeline. */
  private async restart(name: string, server: { restart(downMs?: number): Promise<void> }): Promise<{ atSeconds: number; tookMs: number }> {
    const t0 = Date.now();
    this.note(`${name} stopping`);
    await server.restart(this.plan.downMs);
    const tookMs = Date.now() - t0;
    this.note(`${name} back after ${tookMs} ms`);
    return { atSeconds: (t0 - this.started) / 1000, tookMs };
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopping) {
        await this.tick().catch((err: unknown) => this.note(`fault step failed: ${err instanceof Error ? err.message : String(err)}`));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  }

  /** Stops injecting faults and leaves `workerProcesses` workers running. */
  async stop(timeoutMs = 60_000): Promise<void> {
    this.stopping = true;
    await this.loop;
    await Promise.allSettled([...this.starting]);
    const deadline = Date.now() + timeoutMs;
    while (this.sys.workers.length < this.plan.workerProcesses && Date.now() < deadline) {
      this.workerStarts += 1;
      await this.sys.startWorker().catch(() => {
        this.unexpectedExits += 1;
      });
    }
  }
}
