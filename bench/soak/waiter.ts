import type { InstallationRecord } from '../../src/store/installations';
import type { Store } from '../../src/store';
import { withTimeout } from '../../src/store/watchdog';

interface Waiter {
  installationId: string;
  done(record: InstallationRecord): boolean;
  resolve(ok: boolean): void;
}

/**
 * Waits for installations to reach a state in the partner's record (the
 * `installations` collection the workflow writes at each phase change), polling
 * MongoDB once per interval for every waiter at once; tolerates MongoDB being down.
 */
export class RecordWaiter {
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Since when every poll has failed (undefined while they succeed), and the last failure's error class. */
  private failingSince: number | undefined;
  private lastError = '';

  constructor(
    private readonly store: Store,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    const tick = async () => {
      // Bounded: a read that never settles would end the polling, and every waiter with it.
      await withTimeout(this.poll(), 10_000).then(
        () => (this.failingSince = undefined),
        (err: unknown) => {
          this.failingSince ??= Date.now();
          this.lastError = err instanceof Error ? err.name : 'Error';
        },
      );
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.intervalMs);
    };
    this.timer = setTimeout(() => void tick(), this.intervalMs);
  }

  /** Resolves true once `done(record)` holds, false if the waiter is stopped first. */
  wait(installationId: string, done: (record: InstallationRecord) => boolean): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => this.waiters.add({ installationId, done, resolve }));
  }

  /** Why a wait may not have ended: the waiter's own reads of the store failing (not the service), if they are. */
  readsFailing(): string | undefined {
    if (this.failingSince === undefined) return undefined;
    return `the soak's own reads of the store have failed for ${Math.round((Date.now() - this.failingSince) / 1000)} s (${this.lastError})`;
  }

  private async poll(): Promise<void> {
    if (this.waiters.size === 0) return;
    const ids = [...new Set([...this.waiters].map((w) => w.installationId))];
    const records = await this.store.installations.coll.find({ _id: { $in: ids } }).toArray();
    const byId = new Map(records.map((r) => [r._id, r]));
    for (const w of [...this.waiters]) {
      const r = byId.get(w.installationId);
      if (r && w.done(r)) {
        this.waiters.delete(w);
        w.resolve(true);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters) w.resolve(false);
    this.waiters.clear();
  }
}
