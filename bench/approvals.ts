import type { Simulator } from '../src/simulator';

/**
 * Approvals as the simulator records them (`POST .../state` answered 200 with
 * `{"state":"approve"}`), per installation, with waiters.
 */
export class ApprovalTracker {
  private readonly firstAt = new Map<string, number>();
  private readonly waiters = new Map<string, () => void>();
  private readonly off: () => void;

  constructor(simulator: Simulator) {
    this.off = simulator.onCall((call) => {
      if (call.route !== 'installationState' || call.status !== 200 || !call.installationId) return;
      if ((call.body as { state?: string } | undefined)?.state !== 'approve') return;
      const id = call.installationId;
      if (!this.firstAt.has(id)) this.firstAt.set(id, performance.now());
      const w = this.waiters.get(id);
      if (w) {
        this.waiters.delete(id);
        w();
      }
    });
  }

  get count(): number {
    return this.firstAt.size;
  }

  has(installationId: string): boolean {
    return this.firstAt.has(installationId);
  }

  /** Resolves at the first approval of the installation (at once if it was approved already). */
  wait(installationId: string, timeoutMs: number): Promise<void> {
    if (this.firstAt.has(installationId)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(installationId);
        reject(new Error(`installation ${installationId} not approved within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(installationId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Waits until every one of `ids` is approved, or the deadline; returns how many were. */
  async waitAll(ids: readonly string[], timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && ids.some((id) => !this.firstAt.has(id))) await new Promise((r) => setTimeout(r, 200));
    return ids.filter((id) => this.firstAt.has(id)).length;
  }

  close(): void {
    this.off();
  }
}
