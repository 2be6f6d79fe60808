import type { Collection } from 'mongodb';
import type { EventLinks, InstallationPhase } from '../../workflows/definitions';
import { COLLECTIONS, type Database } from './db';

/**
 * The partner's record of each installation, written by the workflow as its phase
 * changes: what reconciliation compares with Talkdesk and with running workflows.
 */
export interface InstallationRecord {
  _id: string; // installation id
  workflowId: string;
  appId: string;
  accountId?: string;
  accountName?: string;
  phase: InstallationPhase;
  activeClientId?: string;
  links: EventLinks;
  approvedAt?: Date;
  /**
   * When this service's approval of the current install was confirmed by Talkdesk;
   * cleared when an install begins. Reconciliation re-approves only such an install.
   */
  installApprovedAt?: Date;
  /** `created_at` of the newest event applied: older deliveries are superseded. */
  lastEventAt?: string;
  /** Events the workflow finished handling (the last 20): a later run never handles them again. */
  handledEventIds?: string[];
  /**
   * When Talkdesk's view of the installation was last read (by reconciliation, or
   * confirmed by a state call that concluded its operation: an approval, a rejection,
   * an uninstall's acknowledgement): reconciliation reads an active one again once
   * this is older than RECONCILE_ACTIVE_CHECK_HOURS.
   */
  talkdeskCheckedAt?: Date;
  updatedAt: Date;
  createdAt: Date;
}

export class InstallationStore {
  readonly coll: Collection<InstallationRecord>;
  constructor(db: Database) {
    this.coll = db.collection<InstallationRecord>(COLLECTIONS.installations);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ phase: 1 });
    await this.coll.createIndex({ accountId: 1 });
  }

  async record(
    installationId: string,
    update: Partial<Omit<InstallationRecord, '_id' | 'createdAt' | 'updatedAt'>> & { workflowId: string; appId: string },
  ): Promise<void> {
    const now = new Date();
    const set = Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined));
    await this.coll.updateOne(
      { _id: installationId },
      { $set: { ...set, updatedAt: now }, $setOnInsert: { createdAt: now } },
      { upsert: true },
    );
  }

  async markInstallApproved(installationId: string, at: Date): Promise<void> {
    // Talkdesk just answered the approval: that is a check of its view, so the rolling window starts here.
    await this.coll.updateOne({ _id: installationId }, { $set: { installApprovedAt: at, talkdeskCheckedAt: at } });
  }

  /** Talkdesk's view was read: by reconciliation, or a state call's answer ({_id} filter: FerretDB pushes it down). */
  async markTalkdeskChecked(installationId: string, at: Date): Promise<void> {
    await this.coll.updateOne({ _id: installationId }, { $set: { talkdeskCheckedAt: at } });
  }

  /** An install begins (the record was not installing yet): no approval of it yet. */
  async clearInstallApproval(installationId: string): Promise<void> {
    // Read, then written by `_id` alone (the filter FerretDB pushes down); the workflow is the record's writer.
    const rec = await this.coll.findOne({ _id: installationId }, { projection: { phase: 1, installApprovedAt: 1 } });
    if (!rec || rec.phase === 'installing' || !rec.installApprovedAt) return;
    await this.coll.updateOne({ _id: installationId }, { $unset: { installApprovedAt: '' } });
  }

  get(installationId: string): Promise<InstallationRecord | null> {
    return this.coll.findOne({ _id: installationId });
  }

  /**
   * What reconciliation plans a pass from, every record in one read. On the embedded
   * FerretDB (1.24, SQLite) only an {_id} equality filter is pushed down: any other
   * filter, sort or range reads the whole table, so one unfiltered read costs what a
   * single `_id > cursor` page used to, and the pass no longer pays it per page.
   */
  async scanForReconciliation(): Promise<Pick<InstallationRecord, '_id' | 'phase' | 'talkdeskCheckedAt'>[]> {
    return this.coll.find({}, { projection: { _id: 1, phase: 1, talkdeskCheckedAt: 1 } }).toArray() as Promise<
      Pick<InstallationRecord, '_id' | 'phase' | 'talkdeskCheckedAt'>[]
    >;
  }

  /** One page of installations in id order, for paged reconciliation (runs from before the planned pass). */
  page(afterId: string | undefined, limit: number): Promise<InstallationRecord[]> {
    return this.coll
      .find(afterId ? { _id: { $gt: afterId } } : {})
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
  }
}
