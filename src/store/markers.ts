import type { Collection } from 'mongodb';
import { COLLECTIONS, type Database } from './db';

/**
 * Facts about the whole store remembered in one small document each (`store_markers`),
 * read by `_id`: a one-time migration done, when a retention sweep last ran. They let a
 * hot path skip work that would otherwise read a whole collection (on the embedded
 * FerretDB any filter but an exact `{_id}` does).
 */
export interface MarkerRecord {
  _id: string;
  at: Date;
}

export const MARKERS = {
  /** Every credential set stored before `credential_sets` existed is in its installation's index. */
  credentialSets: 'credential-sets-indexed',
  /** No inbox record held an older version's credentials copy at the last start. */
  inboxLegacyCredentialsNone: 'inbox-legacy-credentials-none',
  /** The last retention sweep of `licensed_users_progress`. */
  progressSwept: 'licensed-users-progress-swept',
} as const;

export class MarkerStore {
  private readonly coll: Collection<MarkerRecord>;
  /** Markers that never go away once set, cached so a hot path reads them once per process. */
  private readonly permanent = new Set<string>();
  constructor(db: Database) {
    this.coll = db.collection<MarkerRecord>(COLLECTIONS.storeMarkers);
  }

  async get(id: string): Promise<MarkerRecord | null> {
    return this.coll.findOne({ _id: id });
  }

  /** True once the marker is set; remembered (it is never unset) after the first true. */
  async isSetPermanently(id: string): Promise<boolean> {
    if (this.permanent.has(id)) return true;
    if (!(await this.get(id))) return false;
    this.permanent.add(id);
    return true;
  }

  /** Sets (or moves) the marker. Every writer writes the same kind of fact: a lost write of one is harmless. */
  async set(id: string, at = new Date()): Promise<void> {
    await this.coll.updateOne({ _id: id }, { $set: { at } }, { upsert: true });
  }

  async unset(id: string): Promise<void> {
    this.permanent.delete(id);
    await this.coll.deleteOne({ _id: id });
  }
}
