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

/**
 * An event stored but not yet handed to its workflow. Kept in a collection of its own
 * so that the dispatcher's frequent scan reads only the backlog: on the embedded
 * FerretDB any filter but `{_id}` reads the whole collection, and the inbox keeps
 * every event ever received.
 */
interface QueuedRecord {
  _id: string; // the event id, as in the inbox
  installationId: string;
  createdAt: Date;
  nextDispatchAt: Date;
}

export type InsertOutcome = { stored: 'stored' } | { stored: 'duplicate'; dispatched: boolean };

export class InboxStore {
  private readonly coll: Collection<InboxRecord>;
  private readonly queue: Collection<QueuedRecord>;
  constructor(db: Database) {
    this.coll = db.collection<InboxRecord>(COLLECTIONS.inbox);
    this.queue = db.collection<QueuedRecord>(COLLECTIONS.dispatchQueue);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ dispatchedAt: 1, nextDispatchAt: 1 });
    await this.coll.createIndex({ installationId: 1, createdAt: 1 });
    await this.queue.createIndex({ nextDispatchAt: 1, createdAt: 1 });
  }

  /**
   * Stores the event and queues it for hand-over. A repeated delivery changes nothing
   * in the inbox (the event id is unique) and queues the event again while it has not
   * been handed over. Throws when MongoDB fails: the caller answers so that Talkdesk
   * delivers again, and that delivery queues what this one could not.
   */
  async insert(record: Omit<InboxRecord, 'dispatchAttempts' | 'nextDispatchAt'>): Promise<InsertOutcome> {
    try {
      await this.coll.insertOne({ ...record, dispatchAttempts: 0, nextDispatchAt: record.receivedAt });
    } catch (e) {
      if (!(e instanceof MongoServerError && e.code === 11000)) throw e;
      const existing = await this.coll.findOne({ _id: record._id });
      if (existing && !existing.dispatchedAt) await this.enqueue(existing);
      return { stored: 'duplicate', dispatched: Boolean(existing?.dispatchedAt) };
    }
    await this.enqueue({ ...record, nextDispatchAt: record.receivedAt });
    return { stored: 'stored' };
  }

  /** Queues the event unless it is queued already; true when this call queued it. */
  private async enqueue(r: Pick<InboxRecord, '_id' | 'installationId' | 'createdAt' | 'nextDispatchAt'>): Promise<boolean> {
    const res = await this.queue.updateOne(
      { _id: r._id },
      { $setOnInsert: { installationId: r.installationId, createdAt: r.createdAt, nextDispatchAt: r.nextDispatchAt } },
      { upsert: true },
    );
    return res.upsertedCount > 0;
  }

  get(eventId: string): Promise<InboxRecord | null> {
    return this.coll.findOne({ _id: eventId });
  }

  /** Marks the event handed over and takes it off the queue (a queue entry left behind is dropped by the next scan). */
  async markDispatched(eventId: string, at = new Date()): Promise<void> {
    await this.coll.updateOne({ _id: eventId }, { $set: { dispatchedAt: at }, $unset: { lastDispatchError: '' } });
    await this.queue.deleteOne({ _id: eventId });
  }

  async recordDispatchFailure(eventId: string, attempts: number, nextAt: Date, error: string): Promise<void> {
    await this.coll.updateOne(
      { _id: eventId, dispatchedAt: { $exists: false } },
      { $set: { dispatchAttempts: attempts, nextDispatchAt: nextAt, lastDispatchError: error } },
    );
    await this.queue.updateOne({ _id: eventId }, { $set: { nextDispatchAt: nextAt } });
  }

  /** Makes every backed-off queued event due now (Temporal answers again); returns how many. */
  async retryBackedOffNow(now = new Date()): Promise<number> {
    const res = await this.queue.updateMany({ nextDispatchAt: { $gt: now } }, { $set: { nextDispatchAt: now } });
    return res.modifiedCount;
  }

  /** Queued events not yet handed to their workflow, oldest first, due by `now`. */
  async listUndispatched(limit: number, now = new Date()): Promise<InboxRecord[]> {
    const due = await this.queue.find({ nextDispatchAt: { $lte: now } }).sort({ createdAt: 1 }).limit(limit).toArray();
    const records: InboxRecord[] = [];
    for (const q of due) {
      // One `{_id}` read each: the only filter the embedded FerretDB answers without a full scan.
      const record = await this.coll.findOne({ _id: q._id });
      if (record && !record.dispatchedAt) records.push(record);
      else await this.queue.deleteOne({ _id: q._id });
    }
    return records;
  }

  /**
   * Queues every stored event not yet handed over that has no queue entry: events stored
   * before this queue existed, or whose queue write failed and whose delivery Talkdesk
   * never repeated. Reads the whole inbox, so it runs at start and once per reconciliation.
   */
  async requeueUndispatched(limit = 10_000): Promise<number> {
    const undispatched = await this.coll
      // user.logout is stored here too but handled by the web process, never by a workflow.
      .find({ dispatchedAt: { $exists: false }, type: { $ne: 'user.logout' as EventType } }, { projection: { _id: 1, installationId: 1, createdAt: 1, nextDispatchAt: 1 } })
      .limit(limit)
      .toArray();
    let queued = 0;
    for (const r of undispatched) if (await this.enqueue(r)) queued += 1;
    return queued;
  }

  countUndispatched(): Promise<number> {
    return this.queue.countDocuments();
  }

  /**
   * Drops the encrypted credentials once they have been moved to the credential store.
   * Only the workflow holding the event does this, so the event was handed over: the
   * mark is kept, or written if missing. FerretDB rewrites the whole document on every
   * update, so this update racing the callback's `markDispatched` could otherwise undo
   * that mark, after the queue entry was already gone (seen in the full soak).
   */
  async dropCredentials(eventId: string, at = new Date()): Promise<void> {
    await this.coll.updateOne({ _id: eventId }, { $unset: { credentials: '' }, $min: { dispatchedAt: at } });
    await this.queue.deleteOne({ _id: eventId });
  }

  /** Removes every stored credential copy of an installation (uninstall, rejection, expiry). */
  async dropAllCredentials(installationId: string): Promise<number> {
    const res = await this.coll.updateMany({ installationId, credentials: { $exists: true } }, { $unset: { credentials: '' } });
    return res.modifiedCount;
  }

  /** The installation's lifecycle events (a stored user.logout is not one: see logout-events.ts). */
  listForInstallation(installationId: string): Promise<InboxRecord[]> {
    return this.coll.find({ installationId, type: { $ne: 'user.logout' as EventType } }).sort({ createdAt: 1 }).toArray();
  }
}
