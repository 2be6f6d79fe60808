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

/** A resend in progress (collection `partner_logout_claims`, `_id` = event id @ the `dueAt` it was due at). */
interface LogoutClaim {
  _id: string;
  eventId: string;
  /** Stale from this time on: its process stopped mid-send. */
  until: Date;
  at: Date;
}

export class PendingLogoutStore {
  private readonly coll: Collection<PendingLogout>;
  private readonly claims: Collection<LogoutClaim>;
  constructor(db: Database) {
    this.coll = db.collection<PendingLogout>(COLLECTIONS.partnerLogouts);
    this.claims = db.collection<LogoutClaim>(COLLECTIONS.partnerLogoutClaims);
  }

  /** The retry pass reads by `dueAt`. */
  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ dueAt: 1 });
    await this.claims.createIndex({ until: 1 });
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
   * Takes a due logout for one send, so web processes running the pass at once send it once.
   * The claim is a document of its own keyed by the logout and the `dueAt` it was due at:
   * the store's unique `_id` lets exactly one process insert it (an update conditioned on
   * `dueAt` would do on MongoDB, but is not atomic on FerretDB 1.24: both would win). A
   * claim older than `until` is stale (its process stopped mid-send) and is cleared by the
   * next pass, so the logout is claimable again.
   */
  async claim(pending: PendingLogout, until: Date, now: Date): Promise<string | null> {
    const _id = `${pending._id}@${pending.dueAt.getTime()}`;
    try {
      await this.claims.insertOne({ _id, eventId: pending._id, until, at: now });
      return _id;
    } catch (e) {
      if (e instanceof MongoServerError && e.code === 11000) return null;
      throw e;
    }
  }

  async release(claimId: string): Promise<void> {
    await this.claims.deleteOne({ _id: claimId });
  }

  /** Clears claims whose process stopped before releasing them. The collection holds only sends in progress. */
  async clearStaleClaims(now: Date): Promise<number> {
    return (await this.claims.deleteMany({ until: { $lte: now } })).deletedCount;
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
