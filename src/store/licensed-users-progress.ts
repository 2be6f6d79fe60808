import { MongoServerError, type Collection } from 'mongodb';
import type { TalkdeskUser } from '../talkdesk/schemas';
import { COLLECTIONS, type Database } from './db';
import { MARKERS, StoreMarkers } from './markers';

/**
 * How far a reading of an installation's licensed users got, one document per page
 * read, so that the workflow's next attempt of the step (a new activity: activities
 * run with one attempt each) goes on from the next page instead of page 1. Keyed by
 * the partner call key of the step (installation, event, operation). Holds user ids,
 * names and emails only. Written by the installation's workflow alone (its activities
 * run one at a time); a provision's pages are deleted once its install's record ends `active` (or it is undone), and
 * by the retention sweep once older than `PROGRESS_RETENTION_MS` (an update's plan, in the same collection, keeps its
 * own `keepUntil`: src/store/update-plans.ts).
 */
export interface LicensedUsersPageRecord {
  _id: string; // `<key>:<page>`
  key: string;
  installationId: string;
  /** 1 for the first page read. */
  page: number;
  users: TalkdeskUser[];
  /** Talkdesk's link to the page after this one; null after the last page. */
  next: string | null;
  /** `<key>:facts` only (page 0): what else the step read first, sent the same by every attempt. */
  facts?: unknown;
  savedAt: Date;
}

/** Where a reading stands: the pages read (in order) and the next page to read. */
export interface SavedReading {
  pages: number;
  users: TalkdeskUser[];
  /** Absent once every page was read. */
  next?: string;
}

/** Past Talkdesk's seven days for a phase (and a day's margin) no attempt can still resume a reading. */
export const PROGRESS_RETENTION_MS = 8 * 86_400_000;

/** How often provisioning sweeps: readings live eight days, so an hour late costs nothing. */
export const SWEEP_EVERY_MS = 3_600_000;

export class LicensedUsersProgressStore {
  private readonly coll: Collection<LicensedUsersPageRecord>;
  private readonly markers: StoreMarkers;
  constructor(db: Database) {
    this.coll = db.collection<LicensedUsersPageRecord>(COLLECTIONS.licensedUsersProgress);
    this.markers = new StoreMarkers(db);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ key: 1, page: 1 });
    await this.coll.createIndex({ installationId: 1 });
    await this.coll.createIndex({ savedAt: 1 });
  }

  /** The reading saved under `key`, if a previous attempt read any page: its pages read by `_id`, from the first. */
  async load(key: string): Promise<SavedReading | undefined> {
    // Only an unbroken run of pages from the first one counts.
    const run: LicensedUsersPageRecord[] = [];
    for (let page = 1; ; page += 1) {
      const rec = await this.coll.findOne({ _id: `${key}:${page}` });
      if (!rec) break;
      run.push(rec);
      if (rec.next === null) break;
    }
    const last = run.at(-1);
    if (!last) return undefined;
    return { pages: run.length, users: run.flatMap((p) => p.users), ...(last.next ? { next: last.next } : {}) };
  }

  /**
   * Page `page` was read: its users and the link to the next one. The first writer wins, and what it kept is returned:
   * an attempt outliving its timeout beside its retry reads the same pages at other offsets (users come and go), and
   * every attempt must send the partner the same users under the key.
   */
  async savePage(
    key: string,
    installationId: string,
    page: number,
    users: TalkdeskUser[],
    next: string | undefined,
  ): Promise<{ users: TalkdeskUser[]; next?: string }> {
    // Parsed by userSchema: id, email, name, active, nothing else.
    const kept = await this.keepFirst({ _id: `${key}:${page}`, key, installationId, page, users, next: next ?? null, savedAt: new Date() });
    return { users: kept.users, ...(kept.next !== null ? { next: kept.next } : {}) };
  }

  /** Inserts `doc` unless a document with its `_id` is there already; returns the one kept (the first writer's). */
  private async keepFirst(doc: LicensedUsersPageRecord): Promise<LicensedUsersPageRecord> {
    try {
      await this.coll.insertOne(doc);
      return doc;
    } catch (e) {
      if (!(e instanceof MongoServerError && e.code === 11000)) throw e;
      // Deleted between the two (the reading cleared meanwhile): inserted again.
      return (await this.coll.findOne({ _id: doc._id })) ?? this.keepFirst(doc);
    }
  }

  /**
   * What a provision read besides the users (the account's name, company and timezone, `created_by`), kept by its
   * first attempt: a retry under the same key sends the same body, which an idempotency layer at the partner may
   * require (a rename between attempts would change it). Swept and cleared with the pages.
   */
  async keepFirstFacts(key: string, installationId: string, facts: unknown): Promise<unknown> {
    // The first writer wins: an attempt outliving its timeout beside its retry must not send other facts under the key.
    const doc = { _id: `${key}:facts`, key, installationId, page: 0, users: [], next: null, facts, savedAt: new Date() };
    return (await this.keepFirst(doc)).facts;
  }

  async loadFacts(key: string): Promise<unknown> {
    return (await this.coll.findOne({ _id: `${key}:facts` }))?.facts;
  }

  /** The step succeeded: nothing to resume. */
  async clear(key: string): Promise<void> {
    await this.coll.deleteOne({ _id: `${key}:facts` });
    // Pages are saved in order from the first: deleted by `_id` up to the first missing one.
    for (let page = 1; ; page += 1) {
      const res = await this.coll.deleteOne({ _id: `${key}:${page}` });
      if (res.deletedCount === 0) break;
    }
  }

  /** The phase ended (undone, deprovisioned): every reading of the installation goes. */
  async clearInstallation(installationId: string): Promise<void> {
    await this.coll.deleteMany({ installationId });
  }

  /**
   * The sweep below at most once every `SWEEP_EVERY_MS` (remembered in a marker read by `_id`), so that
   * a provisioning does not read the whole collection each time. Returns how many readings went.
   */
  async sweepIfDue(now = new Date()): Promise<number> {
    const last = await this.markers.get(MARKERS.progressSwept);
    if (last && now.getTime() - last.at.getTime() < SWEEP_EVERY_MS && last.at.getTime() <= now.getTime()) return 0;
    return this.sweep(now);
  }

  /** Retention (the embedded FerretDB has no TTL indexes): readings left by phases that ended without clearing them. */
  async sweep(now = new Date()): Promise<number> {
    await this.markers.set(MARKERS.progressSwept, now);
    // Update plans (update-plans.ts) carry their own `keepUntil`; readings go eight days after they were saved.
    const res = await this.coll.deleteMany({
      $or: [
        { keepUntil: { $lt: now } },
        { keepUntil: { $exists: false }, savedAt: { $lt: new Date(now.getTime() - PROGRESS_RETENTION_MS) } },
      ],
    });
    return res.deletedCount;
  }
}
