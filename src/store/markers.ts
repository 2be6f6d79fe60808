import type { Collection } from 'mongodb';
import { COLLECTIONS, type Database } from './db';

interface MarkerRecord {
  _id: string; // the marker's name
  at: Date;
}

/**
 * Small facts the service remembers about its own store (collection `store_markers`,
 * one document per name, read by `{_id}`): when a whole-collection backstop last ran,
 * that a one-time migration is done. On the embedded FerretDB any filter but `{_id}`
 * reads a whole collection, so such scans run rarely, and these say when.
 */
export class StoreMarkers {
  private readonly coll: Collection<MarkerRecord>;
  constructor(db: Database) {
    this.coll = db.collection<MarkerRecord>(COLLECTIONS.storeMarkers);
  }

  /** When the marker was last set; undefined when never. */
  async get(name: string): Promise<Date | undefined> {
    return (await this.coll.findOne({ _id: name }))?.at;
  }

  async set(name: string, at = new Date()): Promise<void> {
    await this.coll.updateOne({ _id: name }, { $set: { at } }, { upsert: true });
  }

  /**
   * Runs `work` unless it ran (and finished) less than `everyMs` ago; true when it ran.
   * The marker is set only once `work` finished, so a failed run is tried again next time;
   * two processes may both run it at once, which the backstops it guards allow.
   */
  async every(name: string, everyMs: number, work: () => Promise<unknown>, now = new Date()): Promise<boolean> {
    const last = await this.get(name);
    if (last && now.getTime() - last.getTime() < everyMs) return false;
    await work();
    await this.set(name, now);
    return true;
  }
}
