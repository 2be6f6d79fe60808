import type { Collection } from 'mongodb';
import { COLLECTIONS, upsertById, type Database } from '../store/db';
import { StoreMarkers } from '../store/markers';

/**
 * Partner calls operators must know about (collection `partner_calls`, one per
 * hook id): a call kept to be delivered later (`outstanding`: an undo the partner
 * did not answer), or a final refusal that did not stop the lifecycle (`refused`:
 * a deprovision, undo, revert, trial or user.logout the partner answered 4xx).
 */
export interface PartnerCallRecord {
  _id: string; // hook id
  installationId: string;
  type: string;
  /** `superseded`: an undo an earlier version left unsent because a newer install of the installation provisioned since. */
  status: 'outstanding' | 'refused' | 'delivered' | 'superseded';
  /** The exact body to send again (same id, same bytes): ids and facts, no Talkdesk secret. */
  body?: string;
  httpStatus?: number;
  reason?: string;
  attempts: number;
  lastError?: string;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The ids of an installation's calls kept outstanding (collection `partner_outstanding`,
 * `_id` = installation id). Reconciliation looks for outstanding calls of every
 * installation every pass: by `{_id}` here, the one filter the embedded FerretDB
 * pushes down, instead of a filter on `partner_calls` that reads the whole collection.
 * Ids are only added, by the installation's workflow (one activity at a time), and a
 * delivered or refused call is skipped by its status: a removal by reconciliation beside
 * an addition by the workflow would lose one of them on FerretDB, which rewrites the whole
 * document on each update (measured: concurrent `$pull` and `$addToSet` lost the new id).
 */
interface OutstandingIndex {
  _id: string; // installation id
  callIds: string[];
}

/** Marker (store_markers) of the one-time indexing of outstanding calls stored by earlier versions. */
export const OUTSTANDING_INDEXED_MARKER = 'partner-outstanding-indexed';

export class PartnerCallStore {
  readonly coll: Collection<PartnerCallRecord>;
  private readonly index: Collection<OutstandingIndex>;
  private readonly markers: StoreMarkers;
  constructor(db: Database) {
    this.coll = db.collection<PartnerCallRecord>(COLLECTIONS.partnerCalls);
    this.index = db.collection<OutstandingIndex>(COLLECTIONS.partnerOutstanding);
    this.markers = new StoreMarkers(db);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ installationId: 1, status: 1 });
    await this.indexLegacyOutstanding();
  }

  /**
   * Once per store (remembered in a marker): outstanding calls an earlier version kept
   * without an index entry are indexed, so that reconciliation still delivers them.
   */
  async indexLegacyOutstanding(): Promise<number> {
    if (await this.markers.get(OUTSTANDING_INDEXED_MARKER)) return 0;
    const legacy = await this.coll.find({ status: 'outstanding' }, { projection: { _id: 1, installationId: 1 } }).toArray();
    for (const r of legacy) await this.indexOutstanding(r.installationId, r._id);
    await this.markers.set(OUTSTANDING_INDEXED_MARKER);
    return legacy.length;
  }

  private async indexOutstanding(installationId: string, callId: string): Promise<void> {
    await upsertById(this.index, installationId, { $addToSet: { callIds: callId } });
  }

  async keepOutstanding(rec: { id: string; installationId: string; type: string; body: string; lastError: string }): Promise<void> {
    const now = new Date();
    // Indexed first, so that a call kept is never missing from the index (an entry without its call is skipped).
    await this.indexOutstanding(rec.installationId, rec.id);
    await this.coll.updateOne(
      { _id: rec.id },
      {
        $set: {
          installationId: rec.installationId,
          type: rec.type,
          status: 'outstanding',
          body: rec.body,
          lastError: rec.lastError,
          updatedAt: now,
        },
        $inc: { attempts: 1 },
        $setOnInsert: { createdAt: now },
      },
      { upsert: true },
    );
  }

  async recordRefusal(rec: { id: string; installationId: string; type: string; httpStatus?: number; reason: string }): Promise<void> {
    const now = new Date();
    await this.coll.updateOne(
      { _id: rec.id },
      {
        $set: {
          installationId: rec.installationId,
          type: rec.type,
          status: 'refused',
          httpStatus: rec.httpStatus,
          reason: rec.reason,
          updatedAt: now,
        },
        $unset: { body: '' },
        $inc: { attempts: 1 },
        $setOnInsert: { createdAt: now },
      },
      { upsert: true },
    );
  }

  /**
   * Delivered by a resend pass, which read it outstanding just before sending (`stillOutstanding`). A write by `_id`
   * alone: on the embedded store any other filter reads the whole collection, once per outstanding call.
   */
  async markDelivered(id: string): Promise<void> {
    await this.coll.updateOne({ _id: id }, { $set: { status: 'delivered', updatedAt: new Date() }, $unset: { body: '', lastError: '' } });
  }

  /** An outstanding call another send delivered (a retried attempt): delivered; any other status is left as it is. */
  async deliveredIfOutstanding(id: string): Promise<void> {
    await this.coll.updateOne(
      { _id: id, status: 'outstanding' },
      { $set: { status: 'delivered', updatedAt: new Date() }, $unset: { body: '', lastError: '' } },
    );
  }

  async noteAttempt(id: string, lastError: string): Promise<void> {
    await this.coll.updateOne({ _id: id }, { $set: { lastError, updatedAt: new Date() }, $inc: { attempts: 1 } });
  }

  /** The installation's outstanding calls, oldest first: `{_id}` reads only (the index, then each call). */
  async outstanding(installationId: string): Promise<PartnerCallRecord[]> {
    const entry = await this.index.findOne({ _id: installationId });
    const calls: PartnerCallRecord[] = [];
    for (const id of entry?.callIds ?? []) {
      const call = await this.coll.findOne({ _id: id });
      // Delivered or refused calls stay listed (see OutstandingIndex) and are skipped; one not written yet is skipped too.
      if (call?.status === 'outstanding') calls.push(call);
    }
    return calls.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  /** Whether the call is still to be sent: read again just before a resend (a reinstall's provision may have delivered it since). */
  async stillOutstanding(id: string): Promise<boolean> {
    return (await this.coll.findOne({ _id: id }, { projection: { status: 1 } }))?.status === 'outstanding';
  }

  /** Outstanding, refused and superseded calls of an installation, oldest first: what its view shows operators. */
  forInstallation(installationId: string): Promise<PartnerCallRecord[]> {
    return this.coll
      .find({ installationId, status: { $in: ['outstanding', 'refused', 'superseded'] } }, { projection: { body: 0 } })
      .sort({ createdAt: 1 })
      .toArray();
  }
}

/** The provision an undo names (`data.provision_id` of its body), if readable. */
export function undoneProvision(call: PartnerCallRecord): string | undefined {
  try {
    const id = (JSON.parse(call.body ?? '{}') as { data?: { provision_id?: unknown } }).data?.provision_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
