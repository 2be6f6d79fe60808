import type { Collection } from 'mongodb';
import { credentialId } from './credential-ids';
import { COLLECTIONS, upsertById, type Database } from './db';

interface TokenGrant {
  _id: string;
  installationId: string;
  clientId: string;
  /** The set's record's `createdAt` when granted: the life of the set the note is for (one clock, the import's). */
  importedAt?: Date;
  grantedAt: Date;
}

/** A note matters only while its set is fresh (SCOPE_ACTIVATION_MS, 15 minutes): the daily sweep drops it after this. */
export const TOKEN_GRANT_RETENTION_MS = 24 * 3_600_000;

/**
 * Whether Talkdesk ever granted a token to a credential set: a fresh set refused before any grant may still have its
 * scopes activating (activities/tokens.ts); one granted before and refused now was revoked. By the set's `_id`, in a
 * collection of its own (dropping a cached token keeps it; a write here never rewrites the set's secret). No secret in it.
 */
export class TokenGrants {
  private readonly coll: Collection<TokenGrant>;
  constructor(db: Database) {
    this.coll = db.db.collection<TokenGrant>(COLLECTIONS.tokenGrants);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ grantedAt: 1 }); // the sweep's range
  }

  /**
   * The latest grant, with the import it was for (`importedAt`, the set's `createdAt`): a same-id reinstall's set,
   * imported anew, is judged by its own grants, not its earlier life's.
   */
  async note(installationId: string, clientId: string, importedAt: Date, at = new Date()): Promise<void> {
    await upsertById(this.coll, grantId(installationId, clientId), { $set: { installationId, clientId, importedAt, grantedAt: at } });
  }

  /** Whether the set was granted a token since the import of `importedAt` (in this life of the installation). */
  async since(installationId: string, clientId: string, importedAt: Date): Promise<boolean> {
    const note = await this.coll.findOne({ _id: grantId(installationId, clientId) });
    return note?.importedAt?.getTime() === importedAt.getTime();
  }

  /** Retention (no TTL index on the embedded FerretDB): notes older than `TOKEN_GRANT_RETENTION_MS`; returns how many went. */
  async sweep(now = new Date()): Promise<number> {
    const res = await this.coll.deleteMany({ grantedAt: { $lt: new Date(now.getTime() - TOKEN_GRANT_RETENTION_MS) } });
    return res.deletedCount;
  }
}

const grantId = (installationId: string, clientId: string) => credentialId(installationId, clientId);
