import type { Collection } from 'mongodb';
import { FINAL_PHASES, type InstallationPhase } from '../../workflows/definitions';
import { COLLECTIONS, deleteByIds, type Database } from './db';
import { EventCredentialStore } from './event-credentials';
import { MARKERS, StoreMarkers } from './markers';

/**
 * Inbox retention (INBOX_RETENTION_DAYS). The inbox remembers every event id so a
 * repeated delivery is recognised; past the retention window the callback refuses
 * an event by its `created_at` (`event_too_old`), so its record is no longer needed
 * to recognise a replay and can go. The embedded FerretDB has no TTL indexes, so a
 * sweeper deletes them. Only events handed to their workflow are pruned: one still
 * waiting for Temporal stays until the dispatcher has delivered it.
 *
 * Handled `user.logout` records go the same way (the callback refuses those older than the
 * window too). A pruned event's credentials copy goes first, if one is left: its workflow imports
 * (and deletes) it, or never will (an install that arrived after its installation's uninstall had
 * completed, ignored by a run of its own). Handed over is not imported: a workflow stalled past the
 * window (workers down, a bad deploy) still imports a rotation late, and the copy is the only one.
 * So an event with a copy left stays, record and copy, until its installation is done with it: its
 * record is in a final phase or lists the event as handled, or a rotation's installation has no record
 * (never installed here: nothing to rotate). `kept` names the others; past KEPT_WINDOWS windows they go
 * all the same (`gaveUp`: the only list `handledEventIds` keeps is its last 20).
 */

interface PrunableRecord {
  _id: string;
  installationId: string;
  type: string;
  createdAt: Date;
  dispatchedAt?: Date;
  /** A `user.logout` record's mark (src/store/logout-events.ts): it is never handed over. */
  handledAt?: Date;
  /** Credentials an older version kept in the record itself (moved to `event_credentials` at start once handed over). */
  credentials?: unknown;
}

/** An old handed-over event that brought credentials, as the sweep reads it. */
type Candidate = Pick<PrunableRecord, '_id' | 'installationId' | 'type' | 'createdAt' | 'credentials'>;

/** The events that bring credentials (an `event_credentials` copy). */
const CREDENTIAL_EVENTS = ['app.installed', 'app.credentials_rotated'];

export interface SweepResult {
  /** Inbox records pruned. */
  events: number;
  /** Credentials copies of pruned events deleted (never imported), and copies whose record was never stored. */
  credentials: number;
  /** Old handed-over events kept with their copy: their installation has not imported it nor finished (ids). */
  kept: string[];
  /** Events kept so for KEPT_WINDOWS windows, deleted with their copy all the same (ids). */
  gaveUp: string[];
  /** The latest cutoff any sweep pruned before (`inbox-pruned-before`): an event created earlier may be a pruned one's replay. */
  prunedBefore: Date;
}

/** How many retention windows an event with a copy not known imported is kept at most. */
export const KEPT_WINDOWS = 3;

/** The installation record's fields that say whether it is done with an event. */
interface InstallationFacts {
  _id: string;
  phase: string;
  handledEventIds?: string[];
  lastEventAt?: string;
}

/** A credentials copy's fields the sweep reads. */
interface CopyRecord {
  _id: string;
  storedAt: Date;
}

export const DAY_MS = 86_400_000;
/** The shortest INBOX_RETENTION_DAYS the configuration allows (src/config/env.ts). */
const MIN_RETENTION_DAYS = 8;

/**
 * The marker's time, unless later than any sweep could have pruned (a host whose clock ran ahead swept): then
 * undefined, or every event would be refused as too old. Delete the `inbox-pruned-before` marker to clear it.
 */
export function plausiblePrunedBefore(at: Date | undefined, now = Date.now()): number | undefined {
  return at && at.getTime() <= now - MIN_RETENTION_DAYS * DAY_MS ? at.getTime() : undefined;
}

export class InboxRetention {
  private readonly coll: Collection<PrunableRecord>;
  private readonly copies: Collection<CopyRecord>;
  private readonly installations: Collection<InstallationFacts>;
  private readonly eventCredentials: EventCredentialStore;
  private readonly markers: StoreMarkers;
  constructor(
    db: Database,
    private readonly retentionDays: number,
  ) {
    if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new Error('retentionDays must be a positive integer');
    this.coll = db.collection<PrunableRecord>(COLLECTIONS.inbox);
    this.copies = db.collection<CopyRecord>(COLLECTIONS.eventCredentials);
    this.installations = db.collection<InstallationFacts>(COLLECTIONS.installations);
    this.eventCredentials = new EventCredentialStore(db);
    this.markers = new StoreMarkers(db);
  }

  /** Events created before this are refused by the callback and pruned here. */
  cutoff(now = new Date()): Date {
    return new Date(now.getTime() - this.retentionDays * DAY_MS);
  }

  /** The latest cutoff any sweep pruned before, if one ran (`inbox-pruned-before`). */
  async prunedBefore(): Promise<Date | undefined> {
    return (await this.markers.get(MARKERS.inboxPrunedBefore))?.at;
  }

  /** Deletes handed-over events created before the cutoff, their left credentials copies first. */
  async sweep(now = new Date()): Promise<SweepResult> {
    // Raised before anything is deleted, never lowered: INBOX_RETENTION_DAYS raised later must not reopen what was pruned.
    const cutoff = this.cutoff(now);
    const prunedBefore = await this.markers.raise(MARKERS.inboxPrunedBefore, cutoff);
    const before = { $lt: cutoff };
    const old = { createdAt: before, dispatchedAt: { $exists: true } };
    const candidates = await this.coll
      .find(
        { ...old, type: { $in: CREDENTIAL_EVENTS } },
        { projection: { _id: 1, installationId: 1, type: 1, createdAt: 1, credentials: 1 } },
      )
      .toArray();
    const needed = await this.stillNeeded(candidates);
    const longAgo = new Date(now.getTime() - KEPT_WINDOWS * this.retentionDays * DAY_MS);
    const gaveUp = needed.filter((e) => e.createdAt < longAgo).map((e) => e._id);
    const kept = needed.filter((e) => e.createdAt >= longAgo).map((e) => e._id);
    const bringing = candidates.filter((r) => !kept.includes(r._id)).map((r) => r._id);
    // Their copies before the records (a sweep stopped between the two finds the same events next
    // time); those records by the ids read, so that one handed over meanwhile keeps its record too.
    const credentials = await this.eventCredentials.deleteEvents(bringing);
    let events = await deleteByIds(this.coll, bringing);
    events += (await this.coll.deleteMany({ ...old, type: { $nin: CREDENTIAL_EVENTS } })).deletedCount;
    // user.logout records (the user's e-mail in them) are marked handled, not handed over.
    events += (await this.coll.deleteMany({ type: 'user.logout', createdAt: before, handledAt: { $exists: true } })).deletedCount;
    return { events, credentials: credentials + (await this.orphanCopies(before)), kept, gaveUp, prunedBefore };
  }

  /** The events whose copy is left and whose installation is not done with them (see the class's comment). */
  private async stillNeeded(events: readonly Candidate[]): Promise<Candidate[]> {
    if (events.length === 0) return [];
    const copies = await this.copies.find({ _id: { $in: events.map((e) => e._id) } }, { projection: { _id: 1 } }).toArray();
    // Or one an older version kept in the inbox record itself, not moved yet (moved at start only once handed over).
    const withCopy = events.filter((e) => e.credentials !== undefined || copies.some((c) => c._id === e._id));
    if (withCopy.length === 0) return [];
    const ids = [...new Set(withCopy.map((e) => e.installationId))];
    const records = await this.installations
      .find({ _id: { $in: ids } }, { projection: { _id: 1, phase: 1, handledEventIds: 1, lastEventAt: 1 } })
      .toArray();
    const done = (e: Candidate) => {
      const rec = records.find((r) => r._id === e.installationId);
      if (!rec) return e.type === 'app.credentials_rotated';
      if ((rec.handledEventIds ?? []).includes(e._id)) return true;
      // Ended by this event or a later one: a same-id reinstall's install, newer than the uninstall the record still
      // shows (its run stalled before recording anything), is not done: its copy is its only credentials.
      const endedSince = rec.lastEventAt === undefined || Date.parse(rec.lastEventAt) >= e.createdAt.getTime();
      return FINAL_PHASES.includes(rec.phase as InstallationPhase) && endedSince;
    };
    return withCopy.filter((e) => !done(e));
  }

  /**
   * Copies stored before the cutoff whose inbox record was never written (the callback stores the copy
   * first; the record's insert failed and no redelivery came): no record points at them, and a redelivery
   * now is refused as too old, so nothing would ever import them. One stored since is left to its record.
   */
  private async orphanCopies(before: { $lt: Date }): Promise<number> {
    const stale = await this.copies.find({ storedAt: before }, { projection: { _id: 1 } }).toArray();
    const orphans: string[] = [];
    // By exact _id, one at a time: normally none are stale (a copy lives until its import, within days).
    for (const { _id } of stale) if (!(await this.coll.findOne({ _id }, { projection: { _id: 1 } }))) orphans.push(_id);
    return this.eventCredentials.deleteEvents(orphans);
  }
}
