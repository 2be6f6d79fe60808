import { MongoServerError, type Collection } from 'mongodb';
import { COLLECTIONS, type Database } from '../store/db';
import type { UserLogoutRequest } from './provisioner';

/**
 * A `user.logout` the partner has not taken yet (collection `partner_logouts`, `_id` = the
 * event id). Written before Talkdesk is answered, deleted once the partner's hook answered
 * (2xx, or a refusal it recorded in `partner_calls`) or the forward was given up: the
 * collection holds only what is still owed, so the retry pass reads it whole.
 */
export interface PendingLogout {
  _id: string;
  request: UserLogoutRequest;
  firstAt: Date;
  /** When the retry pass may send it (the first attempt is made at once, outside the pass). */
  dueAt: Date;
  attempts: number;
  lastError?: string;
}

export class PendingLogoutStore {
  private readonly coll: Collection<PendingLogout>;
  constructor(db: Database) {
    this.coll = db.collection<PendingLogout>(COLLECTIONS.partnerLogouts);
  }

  /** The retry pass reads by `dueAt`. */
  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ dueAt: 1 });
  }

  /** Keeps the logout; a redelivery of the same event keeps the first copy. */
  async add(request: UserLogoutRequest, firstAt: Date, dueAt: Date): Promise<PendingLogout> {
    const doc: PendingLogout = { _id: request.eventId, request, firstAt, dueAt, attempts: 0 };
    try {
      await this.coll.insertOne(doc);
      return doc;
    } catch (e) {
      if (!(e instanceof MongoServerError && e.code === 11000)) throw e;
      return (await this.coll.findOne({ _id: request.eventId })) ?? doc;
    }
  }

  /** Those due, oldest first. */
  due(now: Date, limit = 100): Promise<PendingLogout[]> {
    return this.coll
      .find({ dueAt: { $lte: now } })
      .sort({ dueAt: 1 })
      .limit(limit)
      .toArray();
  }

  /**
   * Takes a due logout for one send: moves its `dueAt` to `leaseUntil` only if no other
   * process moved it since it was read, so web processes running the pass at once send it
   * once. A process that stops mid-send leaves it due again at `leaseUntil`.
   */
  async claim(pending: PendingLogout, leaseUntil: Date): Promise<PendingLogout | null> {
    const r = await this.coll.updateOne({ _id: pending._id, dueAt: pending.dueAt }, { $set: { dueAt: leaseUntil } });
    return r.modifiedCount === 1 ? { ...pending, dueAt: leaseUntil } : null;
  }

  async retryAt(eventId: string, dueAt: Date, attempts: number, lastError: string): Promise<void> {
    await this.coll.updateOne({ _id: eventId }, { $set: { dueAt, attempts, lastError } });
  }

  async done(eventId: string): Promise<void> {
    await this.coll.deleteOne({ _id: eventId });
  }

  get(eventId: string): Promise<PendingLogout | null> {
    return this.coll.findOne({ _id: eventId });
  }
}
