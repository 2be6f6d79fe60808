import type { Collection } from 'mongodb';
import { COLLECTIONS, type Database } from '../store/db';

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
  status: 'outstanding' | 'refused' | 'delivered';
  /** The exact body to send again (same id, same bytes): ids and facts, no Talkdesk secret. */
  body?: string;
  httpStatus?: number;
  reason?: string;
  attempts: number;
  lastError?: string;
  createdAt: Date;
  updatedAt: Date;
}

export class PartnerCallStore {
  readonly coll: Collection<PartnerCallRecord>;
  constructor(db: Database) {
    this.coll = db.collection<PartnerCallRecord>(COLLECTIONS.partnerCalls);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ installationId: 1, status: 1 });
  }

  async keepOutstanding(rec: { id: string; installationId: string; type: string; body: string; lastError: string }): Promise<void> {
    const now = new Date();
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

  async markDelivered(id: string): Promise<void> {
    await this.coll.updateOne({ _id: id }, { $set: { status: 'delivered', updatedAt: new Date() }, $unset: { body: '', lastError: '' } });
  }

  async noteAttempt(id: string, lastError: string): Promise<void> {
    await this.coll.updateOne({ _id: id }, { $set: { lastError, updatedAt: new Date() }, $inc: { attempts: 1 } });
  }

  outstanding(installationId: string): Promise<PartnerCallRecord[]> {
    return this.coll.find({ installationId, status: 'outstanding' }).sort({ createdAt: 1 }).toArray();
  }

  /** Outstanding and refused calls of an installation, oldest first: what its view shows operators. */
  forInstallation(installationId: string): Promise<PartnerCallRecord[]> {
    return this.coll
      .find({ installationId, status: { $in: ['outstanding', 'refused'] } }, { projection: { body: 0 } })
      .sort({ createdAt: 1 })
      .toArray();
  }
}
