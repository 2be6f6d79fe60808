import { MongoServerError, type Collection } from 'mongodb';
import { COLLECTIONS, type Database } from './db';

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
  logout: { accountId: string; talkdeskUserId: string; email?: string };
  handledAt?: Date;
  sessionsEnded?: number;
}

export class LogoutEventStore {
  private readonly coll: Collection<LogoutInboxRecord>;
  constructor(db: Database) {
    this.coll = db.db.collection<LogoutInboxRecord>(COLLECTIONS.inbox);
  }

  /**
   * Stores the event; on a repeat returns whether the stored copy was handled. `conflict`: the id is stored for
   * another event (a lifecycle event, or a logout of another installation or user): not a repeat of this one.
   */
  async insert(
    r: Omit<LogoutInboxRecord, 'handledAt' | 'sessionsEnded'>,
  ): Promise<{ stored: true } | { stored: false; handled: boolean; conflict: boolean }> {
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
      return { stored: false, handled: Boolean(existing?.handledAt), conflict: !same };
    }
  }

  async markHandled(eventId: string, sessionsEnded: number, at = new Date()): Promise<void> {
    await this.coll.updateOne({ _id: eventId, type: 'user.logout' }, { $set: { handledAt: at, sessionsEnded } });
  }

  /** Stored before `receivedBefore` and never marked handled (the backstop pass), oldest first. */
  unhandled(receivedBefore: Date, limit = 100): Promise<LogoutInboxRecord[]> {
    return this.coll
      .find({ type: 'user.logout', handledAt: { $exists: false }, receivedAt: { $lt: receivedBefore } })
      .sort({ receivedAt: 1 })
      .limit(limit)
      .toArray();
  }

  get(eventId: string): Promise<LogoutInboxRecord | null> {
    return this.coll.findOne({ _id: eventId, type: 'user.logout' });
  }
}
