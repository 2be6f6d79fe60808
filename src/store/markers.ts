import type { Collection } from 'mongodb';
import { COLLECTIONS, upsertById, type Database } from './db';

/**
 * Facts about the whole store remembered in one small document each (`store_markers`), read by
 * `_id`: a one-time migration done, when a backstop or a retention sweep last ran. They let a hot
 * path or a pass skip work that would otherwise read a whole collection (on the embedded FerretDB
 * any filter but an exact `{_id}` does), and say when such a scan is due again.
 */
export interface MarkerRecord {
  _id: string; // the marker's name
  at: Date;
}

export const MARKERS = {
  /** Every credential set stored before `credential_sets` existed is in its installation's index. */
  credentialSets: 'credential-sets-indexed',
  /** No inbox record held an older version's credentials copy at the last start. */
  inboxLegacyCredentialsNone: 'inbox-legacy-credentials-none',
  /** The latest cutoff an inbox retention sweep pruned before: an event created earlier may be a replay of a pruned one. */
  inboxPrunedBefore: 'inbox-pruned-before',
  /** Every `user.logout` an older version stored and never handled is in `logouts_owed` (logout-events.ts). */
  logoutsOwedBackfilled: 'logouts-owed-backfilled',
  /** The last retention sweep of `licensed_users_progress`. */
  progressSwept: 'licensed-users-progress-swept',
} as const;

export class StoreMarkers {
  private readonly coll: Collection<MarkerRecord>;
  /** Markers that never go away once set, cached so a hot path reads them once per process. */
  private readonly permanent = new Set<string>();
  constructor(db: Database) {
    this.coll = db.collection<MarkerRecord>(COLLECTIONS.storeMarkers);
  }

  async get(name: string): Promise<MarkerRecord | null> {
    return this.coll.findOne({ _id: name });
  }

  /** True once the marker is set; remembered (it is never unset) after the first true. */
  async isSetPermanently(name: string): Promise<boolean> {
    if (this.permanent.has(name)) return true;
    if (!(await this.get(name))) return false;
    this.permanent.add(name);
    return true;
  }

  /** Sets (or moves) the marker. Every writer writes the same kind of fact: a lost write of one is harmless. */
  async set(name: string, at = new Date()): Promise<void> {
    await upsertById(this.coll, name, { $set: { at } });
  }

  /** Moves the marker forward to `at` (never back), and returns where it stands. */
  async raise(name: string, at: Date): Promise<Date> {
    // upsertById: two first raises at once, the one that lost the insert (E11000) is tried again.
    await upsertById(this.coll, name, { $max: { at } });
    return (await this.get(name))?.at ?? at;
  }

  async unset(name: string): Promise<void> {
    this.permanent.delete(name);
    await this.coll.deleteOne({ _id: name });
  }

  /**
   * Runs `work` unless it ran (and finished) less than `everyMs` ago; true when it ran.
   * The marker is set only once `work` finished, so a failed run is tried again next time;
   * two processes may both run it at once, which the backstops it guards allow.
   */
  async every(name: string, everyMs: number, work: () => Promise<unknown>, now = new Date()): Promise<boolean> {
    const last = (await this.get(name))?.at;
    if (last && now.getTime() - last.getTime() < everyMs) return false;
    await work();
    await this.set(name, now);
    return true;
  }
}
