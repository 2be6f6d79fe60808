import type { Collection } from 'mongodb';
import { decryptJson, encryptJson, type EncryptedBlob, type Keyring } from '../crypto/secrets';
import type { KeyAlgorithm } from '../../workflows/definitions';
import { COLLECTIONS, type Database } from './db';

export type CredentialStatus = 'pending' | 'active' | 'retiring' | 'destroyed';

/** The secret half of a credential set; only ever held decrypted in memory. */
export interface CredentialSecret {
  clientSecret: string;
  privateKey: string;
  publicKey: string;
}

export interface CredentialRecord {
  _id: string; // `${installationId}:${clientId}`
  installationId: string;
  clientId: string;
  keyId: string;
  keyAlgorithm: KeyAlgorithm;
  tokenUrl: string;
  status: CredentialStatus;
  secret?: EncryptedBlob; // removed (not only marked) when destroyed
  sourceEventId: string;
  createdAt: Date;
  activatedAt?: Date;
  retireAt?: Date;
  destroyedAt?: Date;
}

export interface UsableCredentials {
  installationId: string;
  clientId: string;
  keyId: string;
  keyAlgorithm: KeyAlgorithm;
  tokenUrl: string;
  secret: CredentialSecret;
}

interface TokenRecord {
  _id: string;
  installationId: string;
  clientId: string;
  token: EncryptedBlob;
  scope: string;
  expiresAt: Date;
}

const credentialId = (installationId: string, clientId: string) => `${installationId}:${clientId}`;

/** Credentials and cached access tokens, encrypted with the installation id bound as AAD. */
export class CredentialStore {
  private readonly creds: Collection<CredentialRecord>;
  private readonly tokens: Collection<TokenRecord>;
  constructor(
    db: Database,
    private readonly keyring: Keyring,
  ) {
    this.creds = db.collection<CredentialRecord>(COLLECTIONS.credentials);
    this.tokens = db.collection<TokenRecord>(COLLECTIONS.tokens);
  }

  async ensureIndexes(): Promise<void> {
    await this.creds.createIndex({ installationId: 1, status: 1 });
    await this.creds.createIndex({ status: 1, retireAt: 1 });
    await this.tokens.createIndex({ installationId: 1 });
  }

  /** Idempotent: a credential set already imported (any status) is left as it is. */
  async importPending(input: Omit<UsableCredentials, 'secret'> & { secret: EncryptedBlob; sourceEventId: string }): Promise<void> {
    const { secret, ...facts } = input;
    await this.creds.updateOne(
      { _id: credentialId(input.installationId, input.clientId) },
      { $setOnInsert: { ...facts, secret, status: 'pending', createdAt: new Date() } },
      { upsert: true },
    );
  }

  get(installationId: string, clientId: string): Promise<CredentialRecord | null> {
    return this.creds.findOne({ _id: credentialId(installationId, clientId) });
  }

  list(installationId: string): Promise<CredentialRecord[]> {
    return this.creds.find({ installationId }).sort({ createdAt: 1 }).toArray();
  }

  /** Decrypts one credential set for use; undefined when missing or destroyed. */
  async usable(installationId: string, clientId: string): Promise<UsableCredentials | undefined> {
    const rec = await this.get(installationId, clientId);
    if (!rec || !rec.secret || rec.status === 'destroyed') return undefined;
    return {
      installationId: rec.installationId,
      clientId: rec.clientId,
      keyId: rec.keyId,
      keyAlgorithm: rec.keyAlgorithm,
      tokenUrl: rec.tokenUrl,
      secret: decryptJson<CredentialSecret>(this.keyring, rec.secret, installationId),
    };
  }

  encryptSecret(installationId: string, secret: CredentialSecret): EncryptedBlob {
    return encryptJson(this.keyring, secret, installationId);
  }

  async activate(installationId: string, clientId: string): Promise<void> {
    await this.creds.updateOne(
      { _id: credentialId(installationId, clientId), status: { $in: ['pending', 'active'] } },
      { $set: { status: 'active', activatedAt: new Date() } },
    );
  }

  async scheduleRetirement(installationId: string, clientId: string, retireAt: Date): Promise<void> {
    await this.creds.updateOne(
      { _id: credentialId(installationId, clientId), status: { $ne: 'destroyed' } },
      { $set: { status: 'retiring', retireAt } },
    );
  }

  /** Removes the ciphertext itself and every cached token made with it. */
  async destroy(installationId: string, clientId: string): Promise<boolean> {
    const res = await this.creds.updateOne(
      { _id: credentialId(installationId, clientId), status: { $ne: 'destroyed' } },
      { $set: { status: 'destroyed', destroyedAt: new Date() }, $unset: { secret: '' } },
    );
    await this.tokens.deleteMany({ installationId, clientId });
    return res.modifiedCount > 0;
  }

  async destroyAll(installationId: string): Promise<number> {
    let n = 0;
    for (const rec of await this.list(installationId)) {
      if (await this.destroy(installationId, rec.clientId)) n += 1;
    }
    return n;
  }

  /** Credential sets whose retention ended before `now`. */
  listDueForDestruction(now: Date, limit = 100): Promise<CredentialRecord[]> {
    return this.creds.find({ status: 'retiring', retireAt: { $lte: now } }).limit(limit).toArray();
  }

  async cachedToken(installationId: string, clientId: string, minValidityMs: number): Promise<string | undefined> {
    const rec = await this.tokens.findOne({ _id: credentialId(installationId, clientId) });
    if (!rec || rec.expiresAt.getTime() - Date.now() < minValidityMs) return undefined;
    return decryptJson<string>(this.keyring, rec.token, installationId);
  }

  async cacheToken(installationId: string, clientId: string, token: string, scope: string, expiresAt: Date): Promise<void> {
    await this.tokens.updateOne(
      { _id: credentialId(installationId, clientId) },
      { $set: { installationId, clientId, scope, expiresAt, token: encryptJson(this.keyring, token, installationId) } },
      { upsert: true },
    );
  }

  async dropTokens(installationId: string): Promise<void> {
    await this.tokens.deleteMany({ installationId });
  }
}
