import { MongoServerError, type Collection } from 'mongodb';
import { COLLECTIONS, DURABLE_WRITE, MAJORITY_READ, onceMoreIfDuplicate, type Database } from './db';
import { MARKERS, StoreMarkers } from './markers';

/**
 * A `user.logout` event in the inbox. Stored like the lifecycle events (same collection, the
 * event id unique) but never queued for a workflow: the web process ends the sessions itself
 * and marks it handled. The inbox's requeue scan skips this type.
 */
export interface LogoutInboxRecord {
  _id: string;
  installationId: string;
  type: 'user.logout';
  createdAt: Date;
  receivedAt: Date;
  /** `occurredAt`: `created_at` as Talkdesk sent it, forwarded to the partner the same by every path (older versions: absent). */
  logout: { accountId: string; talkdeskUserId: string; email?: string; occurredAt?: string };
  handledAt?: Date;
  sessionsEnded?: number;
}

/**
 * A `user.logout` whose handling is owed: written before the event is stored, deleted once it is handled, so that the
 * backstop pass reads this small collection (by its few documents) instead of scanning the inbox.
 */
interface OwedLogout {
  _id: string;
  receivedAt: Date;
  /** Kept for the partner's hook: a backstop pass must not forward it again (it may have been delivered since). */
  forwardKeptAt?: Date;
}

export class LogoutEventStore {
  private readonly coll: Collection<LogoutInboxRecord>;
  private readonly owed: Collection<OwedLogout>;
  private readonly markers: StoreMarkers;
  constructor(db: Database) {
    this.coll = db.db.collection<LogoutInboxRecord>(COLLECTIONS.inbox);
    this.owed = db.db.collection<OwedLogout>(COLLECTIONS.logoutsOwed);
    this.markers = new StoreMarkers(db);
  }

  /**
   * Once per store (a marker): logouts a version before `logouts_owed` stored and never handled are owed, so that the
   * backstop handles them (and retention, which prunes handled records only, can then prune them). Reads the inbox by
   * a filter, once; a logout handled meanwhile is settled by the backstop's read. Returns how many were owed.
   */
  async oweUnhandledOnce(): Promise<number> {
    if (await this.markers.get(MARKERS.logoutsOwedBackfilled)) return 0;
    const left = await this.coll
      .find({ type: 'user.logout', handledAt: { $exists: false } }, { projection: { _id: 1, receivedAt: 1 } })
      .toArray();
    for (const r of left) await this.owe(r._id, r.receivedAt);
    await this.markers.set(MARKERS.logoutsOwedBackfilled);
    return left.length;
  }

  /**
   * Before the event is stored: its handling is owed until markHandled. A repeat keeps the first arrival, returned (the
   * logout's time is capped by it), and learns whether an earlier attempt kept its forward for the partner.
   */
  async owe(eventId: string, receivedAt: Date): Promise<{ firstReceivedAt: Date; forwardKept: boolean }> {
    const doc = await onceMoreIfDuplicate(() =>
      this.owed.findOneAndUpdate({ _id: eventId }, { $setOnInsert: { receivedAt } }, { upsert: true, returnDocument: 'after' }),
    );
    return { firstReceivedAt: doc?.receivedAt ?? receivedAt, forwardKept: doc?.forwardKeptAt !== undefined };
  }

  /** The forward is kept for the partner's hook (LogoutForwarder.keep): never kept again for this event. */
  async noteForwardKept(eventId: string, at = new Date()): Promise<void> {
    await this.owed.updateOne({ _id: eventId }, { $set: { forwardKeptAt: at } });
  }

  /** Handling owed since before `receivedBefore` (the backstop pass), oldest first. */
  owedBefore(receivedBefore: Date, limit = 100): Promise<OwedLogout[]> {
    return this.owed
      .find({ receivedAt: { $lt: receivedBefore } })
      .sort({ receivedAt: 1 })
      .limit(limit)
      .toArray();
  }

  /** Nothing owed for this event any more (handled, or its id stored for another event). */
  async settle(eventId: string): Promise<void> {
    await this.owed.deleteOne({ _id: eventId });
  }

  /**
   * Stores the event; on a repeat returns whether the stored copy was handled. `conflict`: the id is stored for
   * another event (a lifecycle event, or a logout of another installation or user): not a repeat of this one.
   */
  async insert(
    r: Omit<LogoutInboxRecord, 'handledAt' | 'sessionsEnded'>,
  ): Promise<{ stored: true } | { stored: false; handled: boolean; conflict: boolean; receivedAt?: Date }> {
    try {
      await this.coll.insertOne(r);
      return { stored: true };
    } catch (e) {
      if (!(e instanceof MongoServerError && e.code === 11000)) throw e;
      const existing = await this.coll.findOne({ _id: r._id });
      const same =
        existing?.type === 'user.logout' &&
        existing.installationId === r.installationId &&
        existing.logout?.talkdeskUserId === r.logout.talkdeskUserId;
      // Handled only once a majority holds the mark: one whose majority wait failed (answered 503) may be on the
      // primary alone, and a failover would roll it back, with the handling before it, after this repeat's 200.
      const handled = same && Boolean((await this.coll.findOne({ _id: r._id }, MAJORITY_READ))?.handledAt);
      return { stored: false, handled, conflict: !same, ...(same && existing.receivedAt ? { receivedAt: existing.receivedAt } : {}) };
    }
  }

  async markHandled(eventId: string, sessionsEnded: number, at = new Date()): Promise<void> {
    // Journaled on a majority before Talkdesk's 200, and with it every write of the handling before it (one primary
    // replicates in order): rolled back by a failover, the marks, the ended sessions and the partner's forward would be
    // gone, and neither a redelivery nor the backstop (its owed entry rolled back too) would bring them back.
    // By `_id` alone (FerretDB reads the whole inbox for any other filter): the callback found this id a logout's first.
    await this.coll.updateOne({ _id: eventId }, { $set: { handledAt: at, sessionsEnded } }, DURABLE_WRITE);
    await this.settle(eventId);
  }

  /** `durable`: as a majority holds it (a handled mark not on a majority yet reads unhandled). */
  async get(eventId: string, o: { durable?: boolean } = {}): Promise<LogoutInboxRecord | null> {
    const r = await this.coll.findOne({ _id: eventId }, o.durable ? MAJORITY_READ : {}); // by `_id` alone, as above
    return r?.type === 'user.logout' ? r : null;
  }
}
