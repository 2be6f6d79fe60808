import type { Collection } from 'mongodb';
import type { Logger } from '../logging/logger';
import { COLLECTIONS, type Database } from './db';

/**
 * Inbox retention (INBOX_RETENTION_DAYS). The inbox remembers every event id so a
 * repeated delivery is recognised; past the retention window the callback refuses
 * an event by its `created_at` (`event_too_old`), so its record is no longer needed
 * to recognise a replay and can go. The embedded FerretDB has no TTL indexes, so a
 * sweeper deletes them. Only events handed to their workflow are pruned: one still
 * waiting for Temporal stays until the dispatcher has delivered it.
 */

interface PrunableRecord {
  _id: string;
  createdAt: Date;
  dispatchedAt?: Date;
}

export const DAY_MS = 86_400_000;

export class InboxRetention {
  private readonly coll: Collection<PrunableRecord>;
  constructor(
    db: Database,
    private readonly retentionDays: number,
  ) {
    if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new Error('retentionDays must be a positive integer');
    this.coll = db.collection<PrunableRecord>(COLLECTIONS.inbox);
  }

  /** Events created before this are refused by the callback and pruned here. */
  cutoff(now = new Date()): Date {
    return new Date(now.getTime() - this.retentionDays * DAY_MS);
  }

  /** Deletes handed-over events created before the cutoff; returns how many. */
  async sweep(now = new Date()): Promise<number> {
    const res = await this.coll.deleteMany({ createdAt: { $lt: this.cutoff(now) }, dispatchedAt: { $exists: true } });
    return res.deletedCount;
  }
}

/** Runs `sweep` at start and then every `intervalMs`, never two at once; `stop` waits for a running sweep. */
export class InboxRetentionSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;

  constructor(
    private readonly retention: InboxRetention,
    private readonly logger: Logger,
    private readonly intervalMs = 3_600_000,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.retention
        .sweep()
        .then(
          (n) => {
            if (n > 0) this.logger.info({ pruned: n }, 'inbox retention: old handled events pruned');
          },
          (err: unknown) =>
            this.logger.warn({ error: err instanceof Error ? err.name : 'unknown' }, 'inbox retention sweep failed; retried later'),
        )
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule(this.intervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
