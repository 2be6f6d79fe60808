import { MongoServerError, type Collection } from 'mongodb';
import type { PartnerUser } from '../partner/provisioner';
import { COLLECTIONS, type Database } from './db';

/**
 * The change an update makes, computed once by its first attempt and kept under the step's
 * call key, so that every later attempt sends the partner the same request and reports the
 * same result. A retry cannot compute it again: the first attempt may already have applied it
 * (users deactivated, subscription set) before its worker died or its answer was lost, and a
 * change read from the updated store would be empty, so the revert that follows a rejection
 * would undo nothing.
 */
export interface UpdatePlan {
  accountId: string;
  usersAdded: PartnerUser[];
  usersRemoved: string[];
  subscription?: Record<string, unknown>;
  /** Ids of the added users that were not active before: what a revert removes again. */
  newlyAdded: string[];
  previousSubscription?: Record<string, unknown>;
}

interface UpdatePlanRecord {
  _id: string; // `<key>:plan`
  key: string;
  installationId: string;
  plan: UpdatePlan;
  savedAt: Date;
}

/**
 * Kept in `licensed_users_progress` beside the step's reading of the licensed users (same key,
 * same `installationId` and `savedAt`), so that the same retention removes it: the readings'
 * sweep past eight days, and an undo or deprovision of the installation. Never removed when the
 * step succeeds: its answer may still be lost, and the retry must find the plan.
 */
export class UpdatePlanStore {
  private readonly coll: Collection<UpdatePlanRecord>;
  constructor(db: Database) {
    this.coll = db.collection<UpdatePlanRecord>(COLLECTIONS.licensedUsersProgress);
  }

  /** The plan kept under `key` by an earlier attempt, if any. */
  async load(key: string): Promise<UpdatePlan | undefined> {
    return (await this.coll.findOne({ _id: `${key}:plan` }))?.plan;
  }

  /**
   * Keeps `plan` unless an attempt kept one first, and returns the plan kept. An insert, so that
   * of two attempts at once (a timed-out one still running) exactly one plan wins, on FerretDB too.
   */
  async keepFirst(key: string, installationId: string, plan: UpdatePlan): Promise<UpdatePlan> {
    try {
      await this.coll.insertOne({ _id: `${key}:plan`, key, installationId, plan, savedAt: new Date() });
      return plan;
    } catch (e) {
      if (!(e instanceof MongoServerError && e.code === 11000)) throw e;
      const kept = await this.load(key);
      if (!kept) throw e; // removed in between (the installation was undone): nothing to go on with
      return kept;
    }
  }
}
