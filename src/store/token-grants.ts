import type { Collection } from 'mongodb';
import { credentialId } from './credential-ids';
import { COLLECTIONS, upsertById, type Database } from './db';

interface TokenGrant {
  _id: string;
  installationId: string;
  clientId: string;
  grantedAt: Date;
}

/**
 * Whether Talkdesk ever granted a token to a credential set: a fresh set refused before any grant may still have its
 * scopes activating (activities/tokens.ts); one granted before and refused now was revoked. By the set's `_id`, in a
 * collection of its own (dropping a cached token keeps it). No secret in it.
 */
export class TokenGrants {
  private readonly coll: Collection<TokenGrant>;
  constructor(db: Database) {
    this.coll = db.db.collection<TokenGrant>(COLLECTIONS.tokenGrants);
  }

  async note(installationId: string, clientId: string, at = new Date()): Promise<void> {
    await upsertById(this.coll, grantId(installationId, clientId), { $setOnInsert: { installationId, clientId, grantedAt: at } });
  }

  async ever(installationId: string, clientId: string): Promise<boolean> {
    return (await this.coll.findOne({ _id: grantId(installationId, clientId) }, { projection: { _id: 1 } })) !== null;
  }
}

const grantId = (installationId: string, clientId: string) => credentialId(installationId, clientId);
