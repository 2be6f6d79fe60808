import { MongoServerError, type Collection } from 'mongodb';
import type { EncryptedBlob } from '../crypto/secrets';
import type { EventType, LifecycleEvent } from '../../workflows/definitions';
import { COLLECTIONS, DURABLE_WRITE, MAJORITY_READ, NotDurableYetError, onceMoreIfDuplicate, type Database } from '../store/db';
import { conflicting, copyServes } from './inbox-conflict';
import {
  EventCredentialStore,
  keptByDestroy,
  type CopiesKept,
  type EventCredentialOwner,
  type SealedEventCredentials,
} from '../store/event-credentials';

/**
 * One delivered event, stored before the callback answers. Written once, then only
 * its hand-over mark is added, by this module (src/store/README.md).
 */

export interface InboxRecord {
  _id: string; // the Talkdesk event id: unique, so a repeated delivery changes nothing
  installationId: string;
  type: EventType;
  createdAt: Date;
  receivedAt: Date;
  event: LifecycleEvent; // secret-free facts, exactly what the workflow receives
  /** When the event's workflow took it; absent until then. */
  dispatchedAt?: Date;
  /** Only in records older versions wrote: moved to `event_credentials` at start. */
  credentials?: EncryptedBlob;
}

/**
 * An event stored but not yet handed to its workflow, with its retry state. Kept in a
 * collection of its own so that the dispatcher's frequent scan reads only the backlog,
 * not every event ever received; its backoff is written here, never in the inbox record.
 */
interface QueuedRecord {
  _id: string; // the event id, as in the inbox
  installationId: string;
  createdAt: Date;
  nextDispatchAt: Date;
  /** Queued with `notBefore`: not handed over before then by any pass, a woken one or reconciliation's included. */
  heldUntil?: Date;
  dispatchAttempts?: number;
  lastDispatchError?: string;
}

/** A queued event with its record, as the dispatcher hands it over. */
export type PendingEvent = InboxRecord & { dispatchAttempts: number; nextDispatchAt: Date; lastDispatchError?: string };

/** At most this many records per pass of a scan that reads the whole inbox (the legacy credentials' move). */
const WHOLE_INBOX_SCAN_LIMIT = 10_000;
/** Records read per batch by the backstop's scan, which reads every record not marked. */
const WHOLE_INBOX_SCAN_BATCH = 1_000;

/** The event a credential copy belongs to: its record's id and times. */
const ownerOf = (r: Pick<InboxRecord, '_id' | 'installationId' | 'createdAt' | 'receivedAt'>): EventCredentialOwner => ({
  eventId: r._id,
  installationId: r.installationId,
  createdAt: r.createdAt,
  storedAt: r.receivedAt,
});

/**
 * `conflict`: the id is stored for another event (`conflicting`), not a redelivery of this one. A repeat's `event`: the
 * stored one, what is handed over for it (one content per event id, what its import reads); `legacyCopy`: its record
 * holds an older version's credentials copy (`markDispatched` keeps its conditional form for it).
 */
type Duplicate = { dispatched: boolean; conflict?: true; event?: LifecycleEvent; receivedAt?: Date; legacyCopy?: boolean };
export type InsertOutcome = { stored: 'stored' } | ({ stored: 'duplicate' } & Duplicate);

export class InboxStore {
  private readonly coll: Collection<InboxRecord>;
  private readonly queue: Collection<QueuedRecord>;
  constructor(
    db: Database,
    private readonly eventCredentials = new EventCredentialStore(db),
  ) {
    this.coll = db.collection<InboxRecord>(COLLECTIONS.inbox);
    this.queue = db.collection<QueuedRecord>(COLLECTIONS.dispatchQueue);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ dispatchedAt: 1 });
    await this.coll.createIndex({ installationId: 1, createdAt: 1 });
    await this.queue.createIndex({ nextDispatchAt: 1, createdAt: 1 });
  }

  /**
   * Stores the event (and the credentials it brought, first: a stored event never lacks
   * them). A repeated delivery changes nothing in the inbox (the event id is unique).
   * Throws when MongoDB fails: the caller answers so that Talkdesk delivers again, and
   * that delivery stores what this one could not.
   *
   * `queue` (default true) also queues the event for the dispatcher, a repeat too while
   * it has not been handed over. The callback passes false: it hands the event over at
   * once and queues it (`enqueue`) only when that fails, so that an event Temporal takes
   * at once costs no queue write and no dequeue (docs/handover.md, "The write set").
   */
  async insert(
    record: Omit<InboxRecord, 'dispatchedAt' | 'credentials'>,
    credentials?: SealedEventCredentials,
    options: { queue?: boolean } = {},
  ): Promise<InsertOutcome> {
    const queue = options.queue ?? true;
    // An event bringing credentials is looked up first: a stored record's credentials were
    // stored before it, and may be imported and deleted since; a repeat must not bring them
    // back (and, found, it costs no refused insert).
    // Read at majority: a record an earlier delivery wrote whose majority wait failed (answered 503) may be on the
    // primary alone; found so, a repeat answered 2xx for what a failover rolls back (an account's only credentials).
    let existing = credentials ? await this.coll.findOne({ _id: record._id }, MAJORITY_READ) : null;
    let copied: Awaited<ReturnType<EventCredentialStore['put']>> | 'none' = 'none';
    if (!existing) {
      if (credentials) copied = await this.eventCredentials.put(ownerOf(record), credentials);
      // Its record never written (that delivery answered 503), then another body under the id: stored, this one's
      // record would name a copy it cannot read (bound to the other installation or client), its own secret lost.
      if (copied === 'conflict') return { stored: 'duplicate', dispatched: false, conflict: true };
      if (await this.insertRecord(record)) {
        if (queue) await this.enqueue(record);
        return { stored: 'stored' };
      }
      existing = await this.coll.findOne({ _id: record._id }, MAJORITY_READ);
      // Its id taken, but not on a majority yet: nothing is promised until it is (503, delivered again).
      if (!existing) throw new NotDurableYetError();
    }
    const conflict = conflicting(existing, record);
    if (credentials) {
      // Another body under the id (refused, 409) keeps no copy: its secret must not wait for the sweep. Unless the
      // stored event's copy is that one (same installation and client: its put took the copy for a repeat's).
      if (conflict && !copyServes(existing, record.installationId, credentials.clientId))
        await this.eventCredentials.deleteCopy(record._id, record.installationId, credentials.clientId);
      // A repeat racing the first delivery (its lookup ran before that record was written) stored a copy where none
      // was: the first one's was deleted meanwhile. Not kept when that was its import (a copy discarded or destroyed
      // without one stays until the retention sweep: the safe way round).
      else if (copied === 'stored') await this.eventCredentials.deleteIfImported(record._id, record.installationId, credentials.clientId);
    }
    if (queue && !existing.dispatchedAt) await this.enqueue(existing);
    return {
      stored: 'duplicate',
      dispatched: Boolean(existing.dispatchedAt),
      ...(conflict ? { conflict: true as const } : {}),
      event: existing.event,
      receivedAt: existing.receivedAt,
      legacyCopy: existing.credentials !== undefined,
    };
  }

  /** Inserts the record (DURABLE_WRITE); false when its event id is taken (a repeated delivery). */
  private async insertRecord(record: Omit<InboxRecord, 'dispatchedAt' | 'credentials'>): Promise<boolean> {
    try {
      await this.coll.insertOne({ ...record }, DURABLE_WRITE);
      return true;
    } catch (e) {
      if (e instanceof MongoServerError && e.code === 11000) return false;
      throw e;
    }
  }

  /**
   * Queues the event unless it is queued already; true when this call queued it. The
   * callback calls it when its own hand-over failed or is left to the dispatcher (the source past its
   * budget); `insert` and the backstop otherwise. `hold`: a date, not handed over by the dispatcher
   * before then; `release`, due now and any hold lifted (a redelivery did what the hold waited for).
   */
  /** `durable`: an answer rests on it (a 202: the dispatcher hands it over), so it is journaled on a majority first. */
  async enqueue(
    r: Pick<InboxRecord, '_id' | 'installationId' | 'createdAt' | 'receivedAt'>,
    hold?: Date | 'release',
    durable = false,
  ): Promise<boolean> {
    const base = { installationId: r.installationId, createdAt: r.createdAt };
    const update =
      hold === 'release'
        ? // $min sets a new entry's time too ($setOnInsert may not name the same field).
          { $setOnInsert: base, $min: { nextDispatchAt: new Date() }, $unset: { heldUntil: '' as const } }
        : {
            $setOnInsert: { ...base, nextDispatchAt: hold ?? r.receivedAt },
            // On an entry the backstop wrote meanwhile too: the hold is what this call is for.
            ...(hold ? { $max: { heldUntil: hold } } : {}),
          };
    // Two upserts of one entry at once (the backstop beside a failed hand-over): FerretDB answers the loser E11000
    // where MongoDB retries, so it tries once more, and its hold (or release, or durable write) lands on the entry.
    const res = await onceMoreIfDuplicate(() =>
      this.queue.updateOne({ _id: r._id }, update, { upsert: true, ...(durable ? DURABLE_WRITE : {}) }),
    );
    return res.upsertedCount > 0;
  }

  get(eventId: string): Promise<InboxRecord | null> {
    return this.coll.findOne({ _id: eventId });
  }

  /** The queue entry of an event not handed over yet (its retry state), or null. */
  queued(eventId: string): Promise<QueuedRecord | null> {
    return this.queue.findOne({ _id: eventId });
  }

  /**
   * Marks the event handed over and takes it off the queue (a queue entry left behind is
   * dropped by the next scan). Every caller (callback, dispatcher, reconciliation) writes
   * the same fact, and the mark never touches another field (src/store/README.md).
   *
   * FerretDB looks a record up by index only for a filter on `_id` alone: with
   * `dispatchedAt: { $exists: false }` added, each mark reads the whole inbox. So a record
   * the caller knows holds no older version's credentials copy (`record` as it read or
   * wrote it) is marked by `_id` alone: nothing but the mark ever updates such a record.
   * A record that may hold one keeps the filter, so that the mark never rewrites a record
   * already marked, whose copy `stripLegacyCredentials` may be removing at that moment.
   * `dequeue: false` when the caller knows it wrote no queue entry (the callback's first
   * hand-over); one the backstop wrote meanwhile is dropped by the dispatcher's next scan.
   */
  async markDispatched(eventId: string, options: { record?: Partial<InboxRecord>; dequeue?: boolean; at?: Date } = {}): Promise<void> {
    const at = options.at ?? new Date();
    const filter = options.record && !options.record.credentials ? { _id: eventId } : { _id: eventId, dispatchedAt: { $exists: false } };
    await this.coll.updateOne(filter, { $set: { dispatchedAt: at } });
    if (options.dequeue ?? true) await this.queue.deleteOne({ _id: eventId });
  }

  /** A failed hand-over: the queue entry backs off (the dispatcher is its only writer). */
  async recordDispatchFailure(eventId: string, attempts: number, nextAt: Date, error: string): Promise<void> {
    await this.queue.updateOne(
      { _id: eventId },
      { $set: { dispatchAttempts: attempts, nextDispatchAt: nextAt, lastDispatchError: error } },
    );
  }

  /**
   * Queued events not yet handed to their workflow, oldest first, due by `now` (a later `now`
   * overrides backoff: a woken pass, reconciliation), never one held until later: the callback holds
   * an event for Talkdesk's redeliveries, which do what handing it over sooner would skip.
   */
  async listUndispatched(limit: number, now = new Date()): Promise<PendingEvent[]> {
    const clock = new Date();
    const due = await this.queue
      // Held entries out in the query, so that they never take a batch's places.
      .find({ nextDispatchAt: { $lte: now }, $or: [{ heldUntil: { $exists: false } }, { heldUntil: { $lte: clock } }] })
      .sort({ createdAt: 1 })
      .limit(limit)
      .toArray();
    const pending: PendingEvent[] = [];
    for (const q of due) {
      // One read by `_id` each: cheap on any store, and the scan stays on the small queue.
      const record = await this.coll.findOne({ _id: q._id });
      if (record && !record.dispatchedAt) {
        pending.push({
          ...record,
          dispatchAttempts: q.dispatchAttempts ?? 0,
          nextDispatchAt: q.nextDispatchAt,
          lastDispatchError: q.lastDispatchError,
        });
      } else await this.queue.deleteOne({ _id: q._id });
    }
    return pending;
  }

  /**
   * Queues every stored event not yet handed over that has no queue entry: events stored
   * before this queue existed, or whose queue write failed and whose delivery Talkdesk
   * never repeated. Reads the whole inbox, so it runs once per process start (the dispatcher)
   * and at most once a day from reconciliation (docs/handover.md, "The backstop"). Every record not
   * marked, however many: one capped at a count could leave the one without an entry behind queued ones
   * (after a long Temporal outage) and still count as done. Read `batchSize` at a time.
   */
  async requeueUndispatched(batchSize = WHOLE_INBOX_SCAN_BATCH): Promise<number> {
    // Those queued already are skipped without a write: after a long Temporal outage most are (one read of the queue's ids).
    const inQueue = new Set((await this.queue.find({}, { projection: { _id: 1 } }).toArray()).map((q) => q._id));
    const undispatched = this.coll.find(
      // user.logout is stored here too but handled by the web process, never by a workflow.
      { dispatchedAt: { $exists: false }, type: { $ne: 'user.logout' as EventType } },
      { projection: { _id: 1, installationId: 1, createdAt: 1, receivedAt: 1 }, batchSize },
    );
    let queued = 0;
    for await (const r of undispatched) if (!inQueue.has(r._id) && (await this.enqueue(r))) queued += 1;
    return queued;
  }

  countUndispatched(): Promise<number> {
    return this.queue.countDocuments();
  }

  /**
   * Credentials older versions kept in inbox records: copied to `event_credentials` and
   * removed from records already marked (at start, or for one installation whose
   * credentials are being destroyed: `drop`, no copy, but those `kept` spares). Only a marked record is written,
   * so that no mark can race this write (src/store/README.md); a record not marked yet
   * keeps its copy, read from there, until its import (`dropLegacyCredentials`).
   * Returns how many records lost their copy.
   */
  async moveLegacyCredentials(
    options: { installationId?: string; drop?: boolean; limit?: number; kept?: CopiesKept } = {},
  ): Promise<number> {
    const filter = {
      credentials: { $exists: true },
      ...(options.installationId ? { installationId: options.installationId } : {}),
    };
    const legacy = await this.coll
      .find(filter, {
        projection: { _id: 1, installationId: 1, createdAt: 1, receivedAt: 1, dispatchedAt: 1, credentials: 1, 'event.facts': 1 },
      })
      .limit(options.limit ?? WHOLE_INBOX_SCAN_LIMIT)
      .toArray();
    let moved = 0;
    for (const r of legacy) {
      if (!r.credentials || !r.dispatchedAt || (options.kept && keptByDestroy(options.kept, r))) continue;
      // Older versions wrote version 1 blobs (bound to the installation only): readable in their new place. A version 2
      // one (a pre-release build bound it to the inbox record) stays there, read by its import with that binding.
      const clientId = (r.event?.facts as { client_id?: unknown } | undefined)?.client_id;
      if (typeof clientId !== 'string' || (!options.drop && r.credentials.v !== 1)) continue;
      if (!options.drop) {
        // A copy an earlier move wrote, not on a majority yet: left in the record (its import reads it there) till the next.
        const put = await this.eventCredentials.put(ownerOf(r), { clientId, secret: r.credentials }).catch((e: unknown) => {
          if (e instanceof NotDurableYetError) return undefined;
          throw e;
        });
        if (put === undefined) continue;
      }
      moved += await this.stripLegacyCredentials(r._id);
    }
    return moved;
  }

  /**
   * After the import of credentials read from an older version's inbox record: the event
   * is in its workflow, so it was handed over; the mark is written if missing, then the
   * copy is removed from the (now marked) record.
   */
  async dropLegacyCredentials(eventId: string): Promise<void> {
    await this.markDispatched(eventId);
    await this.stripLegacyCredentials(eventId);
  }

  private async stripLegacyCredentials(eventId: string): Promise<number> {
    const res = await this.coll.updateOne(
      { _id: eventId, dispatchedAt: { $exists: true }, credentials: { $exists: true } },
      { $unset: { credentials: '' } },
    );
    return res.modifiedCount;
  }

  /** The installation's lifecycle events (a stored user.logout is not one: see src/store/logout-events.ts). */
  listForInstallation(installationId: string): Promise<InboxRecord[]> {
    return this.coll
      .find({ installationId, type: { $ne: 'user.logout' as EventType } })
      .sort({ createdAt: 1 })
      .toArray();
  }
}
