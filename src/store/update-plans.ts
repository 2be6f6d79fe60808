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
  /**
   * Kept by a revert that found no plan: the update was given up before any attempt planned a change.
   * An attempt still running (timed out, not yet stopped) finds it and applies nothing.
   */
  stopped?: true;
}

/** A revert retries without a deadline: its plan outlives the readings' eight days, and each revert attempt renews it. */
export const PLAN_RETENTION_MS = 30 * 86_400_000;

interface UpdatePlanRecord {
  _id: string; // `<key>:plan`
  key: string;
  installationId: string;
  plan: UpdatePlan;
  savedAt: Date;
  /** The retention sweep removes it after this (`LicensedUsersProgressStore.sweep`). */
  keepUntil: Date;
}

/**
 * Kept in `licensed_users_progress` beside the step's reading of the licensed users (same key,
 * same `installationId`), so that the same retention removes it: the readings' sweep once past its
 * `keepUntil`, and an undo or deprovision of the installation. Never removed when the step
 * succeeds: its answer may still be lost, and the retry (or a revert) must find the plan.
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

  /** A revert needs the plan: kept another PLAN_RETENTION_MS (by `_id`; one writer, the installation's workflow). */
  async renew(key: string, now = new Date()): Promise<void> {
    await this.coll.updateOne({ _id: `${key}:plan` }, { $set: { keepUntil: new Date(now.getTime() + PLAN_RETENTION_MS) } });
  }

  /**
   * Keeps `plan` unless an attempt kept one first, and returns the plan kept. An insert, so that
   * of two attempts at once (a timed-out one still running) exactly one plan wins, on FerretDB too.
   */
  async keepFirst(key: string, installationId: string, plan: UpdatePlan): Promise<UpdatePlan> {
    try {
      const now = new Date();
      await this.coll.insertOne({
        _id: `${key}:plan`,
        key,
        installationId,
        plan,
        savedAt: now,
        keepUntil: new Date(now.getTime() + PLAN_RETENTION_MS),
      });
      return plan;
    } catch (e) {
      if (!(e instanceof MongoServerError && e.code === 11000)) throw e;
      const kept = await this.load(key);
      if (!kept) throw e; // removed in between (the installation was undone): nothing to go on with
      return kept;
    }
  }
}
