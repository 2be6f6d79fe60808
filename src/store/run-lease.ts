import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { MongoServerError, type Collection, type Filter } from 'mongodb';
import { AppError } from '../errors';
import { COLLECTIONS, type Database } from './db';

/**
 * A lease that keeps a maintenance command from running twice at once (`npm run reencrypt`: two overlapping runs can
 * each move the same record and lose a write made between them). Documents in `store_markers`, one per holder in turn
 * (`<name>#<generation>`), each written by its holder alone (the store's rule, src/store/README.md: on FerretDB two
 * conditional updates of one document can both win). A run takes the lease by inserting the generation after the
 * latest, if that one expired (or none exists yet): of two runs at once, the unique `_id` lets one win; it then deletes
 * the generations before its own. The holder renews its own document while it runs, expires it when done, and finds
 * the lease lost once a later generation exists or its own is gone.
 */
interface LeaseRecord {
  _id: string;
  owner: string;
  /** Who holds it, for the refusal: host and process id. */
  holder: string;
  at: Date;
  until: Date;
}

/** The lease `npm run reencrypt` takes (`reencrypt-run#<n>` in `store_markers`). */
export const REENCRYPT_LEASE = 'reencrypt-run';

export class LeaseHeldError extends AppError {
  constructor(
    name: string,
    holder: string,
    at: Date,
    readonly until: Date,
  ) {
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

const GENERATION_DIGITS = 12;
const generationId = (name: string, n: number) => `${name}#${String(n).padStart(GENERATION_DIGITS, '0')}`;

export class RunLease {
  private lost = false;
  private released = false;
  private renewing?: Promise<void>;
  /** Until when the lease is ours as far as this process knows (the last renewal that succeeded). */
  private heldUntil: number;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly coll: Collection<LeaseRecord>,
    private readonly name: string,
    private readonly id: string,
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
    // A generation met on the way that has expired since (its run ended meanwhile): nobody holds it, read again.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await RunLease.tryAcquire(db, name, ttlMs);
      } catch (err) {
        if (!(err instanceof LeaseHeldError && err.until.getTime() <= Date.now() && attempt < 3)) throw err;
      }
    }
  }

  private static async tryAcquire(db: Database, name: string, ttlMs: number): Promise<RunLease> {
    const coll = db.collection<LeaseRecord>(COLLECTIONS.storeMarkers);
    const generations = { _id: { $gte: `${name}#`, $lt: `${name}$` } } as Filter<LeaseRecord>;
    const [latest] = await coll.find(generations).sort({ _id: -1 }).limit(1).toArray();
    const at = new Date();
    if (latest && latest.until.getTime() > at.getTime()) throw new LeaseHeldError(name, latest.holder, latest.at, latest.until);
    const n = latest ? Number(latest._id.slice(name.length + 1)) + 1 : 1;
    const owner = randomUUID();
    const until = new Date(at.getTime() + ttlMs);
    try {
      await coll.insertOne({ _id: generationId(name, n), owner, holder: `${hostname()} pid ${process.pid}`, at, until });
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
      const won = await coll.findOne({ _id: generationId(name, n) });
      throw new LeaseHeldError(name, won?.holder ?? 'another process', won?.at ?? at, won?.until ?? until);
    }
    const id = generationId(name, n);
    // A later generation already there: this run read the latest, stalled, and its number came free (deleted below by
    // the run that took a later one). That run holds the lease: this one gives its own up.
    const later = await coll.findOne({ $and: [generations, { _id: { $gt: id } }] } as Filter<LeaseRecord>);
    if (later) {
      await coll.deleteOne({ _id: id, owner });
      throw new LeaseHeldError(name, later.holder, later.at, later.until);
    }
    // The expired generations before it: nothing reads them again (a renewal of one finds this one or a later one).
    await coll.deleteMany({ $and: [generations, { _id: { $lt: id } }] } as Filter<LeaseRecord>);
    return new RunLease(coll, name, id, owner, ttlMs, until);
  }

  /** Throws LeaseLostError once the lease may be another run's: before each write the command makes. */
  assertHeld(): void {
    // A margin of a tenth of the lease: a write sent now lands before another run can take it.
    if (this.lost || Date.now() >= this.heldUntil - this.ttlMs / 10) throw new LeaseLostError(this.name);
  }

  private renew(): Promise<void> {
    // One at a time, and awaited by release(): a renewal landing after the release would bring the lease back.
    this.renewing ??= this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    if (this.lost || this.released) return;
    // Past its expiry another run may have read it expired: never renewed then, even if no one took it yet.
    if (Date.now() >= this.heldUntil) {
      this.lost = true;
      return;
    }
    const until = new Date(Date.now() + this.ttlMs);
    try {
      const res = await this.coll.updateOne({ _id: this.id, owner: this.owner }, { $max: { until } });
      // Taken over: the next generation written, or this one deleted by the run that took it.
      const later = { _id: { $gt: this.id, $lt: `${this.name}$` } } as Filter<LeaseRecord>;
      if (res.matchedCount === 0 || (await this.coll.findOne(later, { projection: { _id: 1 } }))) this.lost = true;
      // Answered after the lease it renewed had run out: another run may have read it expired meanwhile.
      else if (Date.now() >= this.heldUntil) this.lost = true;
      else this.heldUntil = until.getTime();
    } catch {
      // The store unreachable: the lease stays ours until heldUntil, and assertHeld refuses after it.
    }
  }

  /**
   * Gives the lease up (only if still ours): expired at once, so the next run need not wait. Kept, not deleted: the
   * latest generation must stay, or a run that read it and stalled before its insert would take the same number as
   * one started after the store held none, and both would hold the lease.
   */
  async release(): Promise<void> {
    clearInterval(this.timer);
    this.released = true;
    await this.renewing;
    await this.coll.updateOne({ _id: this.id, owner: this.owner }, { $set: { until: new Date(0) } });
  }
}
