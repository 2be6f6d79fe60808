import type { Collection } from 'mongodb';
import type { EventLinks, InstallationPhase } from '../../workflows/definitions';
import { COLLECTIONS, upsertById, type Database } from './db';

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
  /** `created_at` of the newest app.installed applied or being applied (a run resumed from the record restores it). */
  installEventAt?: string;
  /** `created_at` of the newest app.updated applied: a run resumed from this record judges an older one late. */
  updateEventAt?: string;
  /** `created_at` of the update whose subscription the installation holds ('' when none did): a resumed run takes no older one's. */
  subscriptionFrom?: string;
  /**
   * `created_at` of the uninstall applied (`lastEventAt` can be a later event's, ignored by a short run after it), or
   * the time of a revoke reconciliation found (Talkdesk's `updated_at`, at most the workflow's clock).
   */
  uninstallEventAt?: string;
  /** `created_at` of the newest trial event applied: a run resumed from this record judges an older one late. */
  trialEventAt?: string;
  /** `created_at` of the newest app.credentials_rotated applied: an older one is late (never switched to). */
  rotationEventAt?: string;
  /** Events the workflow finished handling (the last 20): a later run never handles them again. */
  handledEventIds?: string[];
  /** The event whose phase is under way (unset between phases): a run resumed from this record knows which. */
  phaseEventId?: string;
  /**
   * When the workflow last saw Talkdesk's view of the installation (a state call that
   * concluded its operation: an approval, a rejection, an uninstall's acknowledgement).
   * Reconciliation's own reads are kept apart (`talkdesk_checks`); it reads an active
   * installation again once the later of the two is older than RECONCILE_ACTIVE_CHECK_HOURS.
   */
  talkdeskCheckedAt?: Date;
  updatedAt: Date;
  createdAt: Date;
}

/** The later of two times, either possibly missing. */
const later = (a: Date | undefined, b: Date | undefined): Date | undefined => (a && b ? (b > a ? b : a) : (a ?? b));

/** Reconciliation's last read of an installation at Talkdesk, one document per installation. */
interface TalkdeskCheck {
  _id: string;
  /** Absent when only tried (below). */
  at?: Date;
  /** The visit found nothing to read Talkdesk with (an ended installation's credentials destroyed). */
  nothingToRead?: boolean;
  /** The last read planned and not answered (its host paused or not answering, a 5xx): still due, ordered by this try. */
  triedAt?: Date;
  /** The pass (its plan id) whose read `at` is: a retried page skips what an earlier attempt of its pass recorded. */
  planId?: string;
}

/** What a reconciliation pass plans from: each record's phase, last Talkdesk check and `resumed_runs` mark. */
export type ScannedInstallation = Pick<InstallationRecord, '_id' | 'phase' | 'talkdeskCheckedAt'> & {
  resumedAt?: Date;
  nothingToRead?: boolean;
  triedAt?: Date;
};

/** A new run of an installation's workflow started from a live record (its workflow was lost): `resumed_runs`. */
interface ResumedRun {
  _id: string;
  at: Date;
  /** What the first run marking it loaded: the lost run's last applied event and handled ids (absent: older marks). */
  loaded?: ResumedFrom;
}

const pick = ({ lastEventAt, handledEventIds }: ResumedFrom): ResumedFrom => ({ lastEventAt, handledEventIds });

/** The record as a run resumed from it loaded it: what the lost run had applied, whatever the new run applies since. */
export type ResumedFrom = Pick<InstallationRecord, 'lastEventAt' | 'handledEventIds'>;

export class InstallationStore {
  readonly coll: Collection<InstallationRecord>;
  private readonly checks: Collection<TalkdeskCheck>;
  private readonly resumed: Collection<ResumedRun>;
  constructor(db: Database) {
    this.coll = db.collection<InstallationRecord>(COLLECTIONS.installations);
    this.checks = db.collection<TalkdeskCheck>(COLLECTIONS.talkdeskChecks);
    this.resumed = db.collection<ResumedRun>(COLLECTIONS.resumedRuns);
  }

  /**
   * A new run loaded this record in a live phase: its workflow was lost, and the events the lost run had queued
   * (the inbox shows them handed over) may be unknown to the new one. The next reconciliation pass checks
   * (activities/reconcile-resume.ts). Apart from the record, whose one writer is the workflow.
   */
  async markResumedRun(installationId: string, at: Date, loaded?: ResumedFrom): Promise<void> {
    // A mark not yet checked keeps what its first run loaded: a later run (the new one lost too) loads a record that
    // may already show its predecessor's newer events, which would hide what the first lost run had queued.
    const kept = loaded && Object.fromEntries(Object.entries(pick(loaded)).filter(([, v]) => v !== undefined));
    const first = kept ? { $setOnInsert: { loaded: kept } } : {};
    await upsertById(this.resumed, installationId, { $set: { at }, ...first });
  }

  /** What the first run marking it loaded (`markResumedRun`), undefined for a mark without it. */
  async resumedFrom(installationId: string): Promise<ResumedFrom | undefined> {
    return (await this.resumed.findOne({ _id: installationId }, { projection: { loaded: 1 } }))?.loaded ?? undefined;
  }

  /** Checked: the mark goes, unless a newer run marked it since (a scan of a collection of a few documents). */
  async clearResumedRun(installationId: string, at: Date): Promise<void> {
    await this.resumed.deleteOne({ _id: installationId, at });
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ phase: 1 });
    await this.coll.createIndex({ accountId: 1 });
  }

  /** Writes the fields given; an undefined one is left as it was, unless named in `unset` (removed). */
  async record(
    installationId: string,
    update: Partial<Omit<InstallationRecord, '_id' | 'createdAt' | 'updatedAt'>> & { workflowId: string; appId: string },
    unset: readonly (keyof InstallationRecord)[] = [],
  ): Promise<void> {
    const now = new Date();
    const set = Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined));
    const removed = unset.filter((k) => update[k as keyof typeof update] === undefined);
    await this.coll.updateOne(
      { _id: installationId },
      {
        $set: { ...set, updatedAt: now },
        $setOnInsert: { createdAt: now },
        ...(removed.length > 0 ? { $unset: Object.fromEntries(removed.map((k) => [k, ''])) } : {}),
      },
      { upsert: true },
    );
  }

  async markInstallApproved(installationId: string, at: Date): Promise<void> {
    // Talkdesk just answered the approval: that is a check of its view, so the rolling window starts here.
    await this.coll.updateOne({ _id: installationId }, { $set: { installApprovedAt: at, talkdeskCheckedAt: at } });
  }

  /** The workflow's state call was answered with its outcome ({_id} filter: FerretDB pushes it down). */
  async markTalkdeskChecked(installationId: string, at: Date): Promise<void> {
    await this.coll.updateOne({ _id: installationId }, { $set: { talkdeskCheckedAt: at } });
  }

  /**
   * Reconciliation read Talkdesk's view. Not on the record: the workflow is its one writer
   * (src/store/README.md), and on FerretDB this update landing with one of the workflow's
   * would lose one of them, the workflow's phase included.
   */
  async markCheckedByReconciliation(installationId: string, at: Date, nothingToRead = false, planId?: string): Promise<void> {
    await upsertById(
      this.checks,
      installationId,
      planId ? { $set: { at, nothingToRead, planId } } : { $set: { at, nothingToRead }, $unset: { planId: '' } },
    );
  }

  /** A read planned for the installation went unanswered (`triedAt`): its last check stays as it was. */
  async markTriedByReconciliation(installationId: string, at: Date): Promise<void> {
    await upsertById(this.checks, installationId, { $set: { triedAt: at } });
  }

  /** Reconciliation's last recorded read of the installation was in the pass `planId` (no clock compared). */
  async checkedInPass(installationId: string, planId: string): Promise<boolean> {
    return (await this.checks.findOne({ _id: installationId }, { projection: { planId: 1 } }))?.planId === planId;
  }

  /** The later of the workflow's and reconciliation's last reads of Talkdesk's view; undefined before any. */
  async lastTalkdeskCheck(installationId: string): Promise<Date | undefined> {
    const [rec, check] = await Promise.all([
      this.coll.findOne({ _id: installationId }, { projection: { talkdeskCheckedAt: 1 } }),
      this.checks.findOne({ _id: installationId }),
    ]);
    return later(rec?.talkdeskCheckedAt, check?.at);
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
  async scanForReconciliation(): Promise<ScannedInstallation[]> {
    const [recs, checks, resumed] = await Promise.all([
      this.coll.find({}, { projection: { _id: 1, phase: 1, talkdeskCheckedAt: 1 } }).toArray() as Promise<
        Pick<InstallationRecord, '_id' | 'phase' | 'talkdeskCheckedAt'>[]
      >,
      this.checks.find({}).toArray(),
      this.resumed.find({}, { projection: { _id: 1, at: 1 } }).toArray(),
    ]);
    // The later of the workflow's and reconciliation's reads (a record of an older version has only its own).
    const byId = new Map(checks.map((c) => [c._id, c]));
    const resumedAt = new Map(resumed.map((r) => [r._id, r.at]));
    return recs.map((r) => {
      const check = byId.get(r._id);
      return {
        ...r,
        talkdeskCheckedAt: later(r.talkdeskCheckedAt, check?.at),
        ...(check?.nothingToRead ? { nothingToRead: true } : {}),
        ...(check?.triedAt ? { triedAt: check.triedAt } : {}),
        ...(resumedAt.has(r._id) ? { resumedAt: resumedAt.get(r._id) } : {}),
      };
    });
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
