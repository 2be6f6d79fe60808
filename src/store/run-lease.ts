import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { MongoServerError, type Collection } from 'mongodb';
import { AppError } from '../errors';
import { COLLECTIONS, type Database } from './db';

/**
 * A lease that keeps a maintenance command from running twice at once (`npm run reencrypt`: two overlapping runs can
 * each move the same record and lose a write made between them). One document in `store_markers`, taken by an upsert
 * that matches only an expired lease or the owner's own: a live lease makes the insert fail with a duplicate key. The
 * holder renews it while it runs; a holder that stopped (killed, its host gone) lets it expire after `ttlMs`.
 */
interface LeaseRecord {
  _id: string;
  owner: string;
  /** Who holds it, for the refusal: host and process id. */
  holder: string;
  at: Date;
  until: Date;
}

/** The lease `npm run reencrypt` takes (its `_id` in `store_markers`). */
export const REENCRYPT_LEASE = 'reencrypt-run';

export class LeaseHeldError extends AppError {
  constructor(name: string, holder: string, at: Date, until: Date) {
    super(
      `another run (${holder}, since ${at.toISOString()}) holds the lease ${name}: wait for it to end and run this again; ` +
        `if that run was killed, its lease expires at ${until.toISOString()}`,
    );
  }
}

export class LeaseLostError extends AppError {
  constructor(name: string) {
    super(`this run lost its lease ${name} (it could not renew it in time, and another run may hold it now): it stopped; run it again`);
  }
}

export class RunLease {
  private lost = false;
  /** Until when the lease is ours as far as this process knows (the last renewal that succeeded). */
  private heldUntil: number;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly coll: Collection<LeaseRecord>,
    private readonly name: string,
    private readonly owner: string,
    private readonly ttlMs: number,
    until: Date,
  ) {
    this.heldUntil = until.getTime();
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(ttlMs / 4)));
    this.timer.unref();
  }

  /** Takes the lease `name`, or throws LeaseHeldError naming the run that holds it. */
  static async acquire(db: Database, name: string, ttlMs = 120_000): Promise<RunLease> {
    const coll = db.collection<LeaseRecord>(COLLECTIONS.storeMarkers);
    const owner = randomUUID();
    const at = new Date();
    const until = new Date(at.getTime() + ttlMs);
    try {
      await coll.updateOne(
        { _id: name, until: { $lte: at } },
        { $set: { owner, holder: `${hostname()} pid ${process.pid}`, at, until } },
        { upsert: true },
      );
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
      const held = await coll.findOne({ _id: name });
      throw new LeaseHeldError(name, held?.holder ?? 'unknown', held?.at ?? at, held?.until ?? until);
    }
    return new RunLease(coll, name, owner, ttlMs, until);
  }

  /** Throws LeaseLostError once the lease may be another run's: before each write the command makes. */
  assertHeld(): void {
    // A margin of a tenth of the lease: a write sent now lands before another run can take it.
    if (this.lost || Date.now() >= this.heldUntil - this.ttlMs / 10) throw new LeaseLostError(this.name);
  }

  private async renew(): Promise<void> {
    if (this.lost) return;
    const until = new Date(Date.now() + this.ttlMs);
    try {
      const res = await this.coll.updateOne({ _id: this.name, owner: this.owner }, { $set: { until } });
      if (res.matchedCount === 0) this.lost = true;
      else this.heldUntil = until.getTime();
    } catch {
      // The store unreachable: the lease stays ours until heldUntil, and assertHeld refuses after it.
    }
  }

  /** Gives the lease up (only if still ours): the next run need not wait for it to expire. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.coll.deleteOne({ _id: this.name, owner: this.owner });
  }
}
