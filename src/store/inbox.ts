import { MongoServerError, type Collection } from 'mongodb';
import type { EncryptedBlob } from '../crypto/secrets';
import type { EventType, LifecycleEvent } from '../../workflows/definitions';
import { COLLECTIONS, type Database } from './db';

/** One delivered event, stored before the callback answers. */
export interface InboxRecord {
  _id: string; // the Talkdesk event id: unique, so a repeated delivery changes nothing
  installationId: string;
  type: EventType;
  createdAt: Date;
  receivedAt: Date;
  event: LifecycleEvent; // secret-free facts, exactly what the workflow receives
  credentials?: EncryptedBlob; // app.installed / app.credentials_rotated only
  dispatchedAt?: Date;
  dispatchAttempts: number;
  nextDispatchAt: Date;
  lastDispatchError?: string;
}

export class InboxStore {
  private readonly coll: Collection<InboxRecord>;
  constructor(db: Database) {
    this.coll = db.collection<InboxRecord>(COLLECTIONS.inbox);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ dispatchedAt: 1, nextDispatchAt: 1 });
    await this.coll.createIndex({ installationId: 1, createdAt: 1 });
  }

  /** Stores the event; 'duplicate' when this event id was stored before. */
  async insert(record: Omit<InboxRecord, 'dispatchAttempts' | 'nextDispatchAt'>): Promise<'stored' | 'duplicate'> {
    try {
      await this.coll.insertOne({ ...record, dispatchAttempts: 0, nextDispatchAt: record.receivedAt });
      return 'stored';
    } catch (e) {
      if (e instanceof MongoServerError && e.code === 11000) return 'duplicate';
      throw e;
    }
  }

  get(eventId: string): Promise<InboxRecord | null> {
    return this.coll.findOne({ _id: eventId });
  }

  async markDispatched(eventId: string, at = new Date()): Promise<void> {
    await this.coll.updateOne({ _id: eventId }, { $set: { dispatchedAt: at }, $unset: { lastDispatchError: '' } });
  }

  async recordDispatchFailure(eventId: string, attempts: number, nextAt: Date, error: string): Promise<void> {
    await this.coll.updateOne(
      { _id: eventId, dispatchedAt: { $exists: false } },
      { $set: { dispatchAttempts: attempts, nextDispatchAt: nextAt, lastDispatchError: error } },
    );
  }

  /** Stored events not yet handed to their workflow, oldest first, due by `now`. */
  listUndispatched(limit: number, now = new Date()): Promise<InboxRecord[]> {
    return this.coll
      .find({ dispatchedAt: { $exists: false }, nextDispatchAt: { $lte: now } })
      .sort({ createdAt: 1 })
      .limit(limit)
      .toArray();
  }

  countUndispatched(): Promise<number> {
    return this.coll.countDocuments({ dispatchedAt: { $exists: false } });
  }

  /** Drops the encrypted credentials once they have been moved to the credential store. */
  async dropCredentials(eventId: string): Promise<void> {
    await this.coll.updateOne({ _id: eventId }, { $unset: { credentials: '' } });
  }

  /** Removes every stored credential copy of an installation (uninstall, rejection, expiry). */
  async dropAllCredentials(installationId: string): Promise<number> {
    const res = await this.coll.updateMany({ installationId, credentials: { $exists: true } }, { $unset: { credentials: '' } });
    return res.modifiedCount;
  }

  listForInstallation(installationId: string): Promise<InboxRecord[]> {
    return this.coll.find({ installationId }).sort({ createdAt: 1 }).toArray();
  }
}
