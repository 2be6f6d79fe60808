import type { Simulator, SimEvent } from '../../src/simulator';

/**
 * Delivery as Talkdesk does it (the simulator's first attempt and its two retries),
 * plus what Talkdesk support would do when all three failed: deliver again.
 */
export class Deliveries {
  private cursor = 0;
  /** eventId -> state of its latest delivery chain. */
  private readonly state = new Map<string, { ok: boolean; lastAttempt: number; lastOk: boolean }>();
  /** Deliveries made again by the soak after a chain of three attempts failed. */
  redelivered = 0;
  /** First attempts that were not answered 2xx. */
  firstAttemptFailures = 0;
  /** Event ids whose delivery was accepted (2xx). */
  readonly accepted = new Set<string>();

  constructor(private readonly simulator: Simulator) {}

  /** Reads the simulator's delivery records added since the last call. */
  private refresh(): void {
    const records = this.simulator.deliveries;
    for (; this.cursor < records.length; this.cursor += 1) {
      const r = records[this.cursor]!;
      const s = this.state.get(r.eventId) ?? { ok: false, lastAttempt: 0, lastOk: false };
      s.lastAttempt = r.attempt;
      s.lastOk = r.ok;
      if (r.ok) {
        s.ok = true;
        this.accepted.add(r.eventId);
      }
      this.state.set(r.eventId, s);
    }
  }

  /**
   * Delivers until the callback accepts the event (2xx) or `shouldStop()`; returns whether
   * it was accepted. A chain whose three attempts all failed is delivered again.
   */
  async deliver(event: SimEvent, shouldStop: () => boolean): Promise<boolean> {
    let status = await this.simulator.deliver(event);
    if (status >= 200 && status < 300) {
      this.refresh();
      return true;
    }
    this.firstAttemptFailures += 1;
    for (;;) {
      if (shouldStop()) return false;
      await new Promise((r) => setTimeout(r, 250));
      this.refresh();
      const s = this.state.get(event.id);
      if (s?.ok) return true;
      if (s && s.lastAttempt >= 3 && !s.lastOk) {
        // Talkdesk gave up; support delivers the event again.
        this.redelivered += 1;
        status = await this.simulator.deliver(event);
        if (status >= 200 && status < 300) {
          this.refresh();
          return true;
        }
      }
    }
  }

  isAccepted(eventId: string): boolean {
    this.refresh();
    return this.accepted.has(eventId);
  }
}
