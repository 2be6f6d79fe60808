import type { Collection } from 'mongodb';
import { COLLECTIONS, type Database } from './db';

/** One failed sign-in, for support: a reason and a reference, never a code, token or secret. */
export interface SsoFailureRecord {
  _id: string; // the reference id shown on the failure page
  reason: string;
  status: number;
  installationId?: string;
  accountId?: string;
  /** The `error` an OAuth redirect carried, when short and identifier-like. */
  oauthError?: string;
  /** The Talkdesk error kind (server_error, unauthorized, timeout...), never a message. */
  detail?: string;
  at: Date;
}

export class SsoFailureStore {
  readonly coll: Collection<SsoFailureRecord>;
  constructor(db: Database) {
    this.coll = db.collection<SsoFailureRecord>(COLLECTIONS.ssoFailures);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ installationId: 1, at: -1 });
    await this.coll.createIndex({ at: 1 }); // the retention sweep's range
  }

  /** Deletes the records older than `before` (SSO_FAILURE_RETENTION_DAYS); how many. */
  async sweep(before: Date): Promise<number> {
    return (await this.coll.deleteMany({ at: { $lt: before } })).deletedCount;
  }

  async record(f: SsoFailureRecord): Promise<void> {
    await this.coll.insertOne(f);
  }

  get(referenceId: string): Promise<SsoFailureRecord | null> {
    return this.coll.findOne({ _id: referenceId });
  }

  listForInstallation(installationId: string): Promise<SsoFailureRecord[]> {
    return this.coll.find({ installationId }).sort({ at: 1 }).toArray();
  }
}
