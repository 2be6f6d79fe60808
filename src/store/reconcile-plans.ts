import type { Collection } from 'mongodb';
import type { InstallationPhase } from '../../workflows/definitions';
import { COLLECTIONS, type Database } from './db';

/**
 * One installation a reconciliation pass visits, with its phase when planned;
 * `slot` set: read Talkdesk, not before that minute of the pass.
 */
export interface PlanEntry {
  id: string;
  phase: InstallationPhase;
  slot?: number;
  /**
   * For a visit without a Talkdesk read: whether visibility listed its workflow running
   * when the pass was planned (false: it is described before anything is done).
   * Absent from plans of earlier versions: the page queries visibility itself.
   */
  running?: boolean;
  /** A run started from its live record (the workflow was lost) at this time: what the lost run had queued is checked. */
  resumedAt?: Date;
}

interface PlanPageRecord {
  _id: string; // `${planId}:${page}`
  planId: string;
  entries: PlanEntry[];
  createdAt: Date;
}

/**
 * Replacements sent in one command. FerretDB 1.24 (SQLite) hangs, and every other client
 * with it, on an update command of more than 100 statements that replace existing
 * documents (a retried plan of more than 100 pages); 99 answer.
 */
export const WRITES_PER_COMMAND = 50;

/** A plan's pages are dropped by a later pass once this old: longer than any pass runs. */
const KEEP_PLANS_MS = 60 * 60_000;

/**
 * The pages of a reconciliation pass, written once when the pass is planned and read
 * by `{_id}` (the one filter the embedded FerretDB pushes down), so a page costs one
 * indexed read however many installations there are.
 */
export class ReconcilePlanStore {
  readonly coll: Collection<PlanPageRecord>;
  constructor(db: Database) {
    this.coll = db.collection<PlanPageRecord>(COLLECTIONS.reconcilePlans);
  }

  /** Writes the plan's pages (again, on a retry) and drops the pages of old passes. */
  async write(planId: string, pages: PlanEntry[][], now = new Date()): Promise<void> {
    await this.coll.deleteMany({ createdAt: { $lt: new Date(now.getTime() - KEEP_PLANS_MS) } });
    const ops = pages.map((entries, k) => ({
      replaceOne: { filter: { _id: `${planId}:${k}` }, replacement: { planId, entries, createdAt: now }, upsert: true },
    }));
    for (let i = 0; i < ops.length; i += WRITES_PER_COMMAND) {
      await this.coll.bulkWrite(ops.slice(i, i + WRITES_PER_COMMAND), { ordered: false });
    }
  }

  async page(planId: string, page: number): Promise<PlanEntry[] | undefined> {
    return (await this.coll.findOne({ _id: `${planId}:${page}` }))?.entries;
  }
}
