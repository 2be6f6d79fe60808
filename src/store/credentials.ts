import type { Collection } from 'mongodb';
import { decryptJson, encryptJson, rebind, type EncryptedBlob, type Keyring, type SecretContext } from '../crypto/secrets';
import type { KeyAlgorithm } from '../../workflows/definitions';
import { COLLECTIONS, type Database } from './db';
import { credentialSecretContext, tokenContext } from './secret-contexts';

export type CredentialStatus = 'pending' | 'active' | 'retiring' | 'destroyed';

/** The secret half of a credential set; only ever held decrypted in memory. */
export interface CredentialSecret {
  clientSecret: string;
  privateKey: string;
  publicKey: string;
}

export interface CredentialRecord {
  _id: string; // credentialId(installationId, clientId)
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

/** `%` and `:` escaped, so the one bare `:` of an id separates the two parts. */
const escapeIdPart = (part: string) => part.replace(/%/g, '%25').replace(/:/g, '%3A');

/**
 * The `_id` of a credential set and of its token record. Both ids may contain `:`, so
 * the plain `${installationId}:${clientId}` of earlier versions could collide between
 * installations ("a:b"+"c" and "a"+"b:c"); escaped, it cannot. Ids without `%` or `:`
 * (all real ones seen so far) keep the id they had.
 */
export function credentialId(installationId: string, clientId: string): string {
  return `${escapeIdPart(installationId)}:${escapeIdPart(clientId)}`;
}

/** The `_id` earlier versions used; records still under it are moved by `npm run reencrypt`. */
export function legacyCredentialId(installationId: string, clientId: string): string {
  return `${installationId}:${clientId}`;
}

/**
 * Filters for one credential set: its id, and while a record may still sit under a
 * different legacy id, that one too, but only if the record says it is this set (a
 * collided legacy record belongs to whoever wrote it).
 */
function idFilters(installationId: string, clientId: string): { _id: string; installationId?: string; clientId?: string }[] {
  const id = credentialId(installationId, clientId);
  const legacy = legacyCredentialId(installationId, clientId);
  return legacy === id ? [{ _id: id }] : [{ _id: id }, { _id: legacy, installationId, clientId }];
}

/** Credentials and cached access tokens, encrypted and bound to their installation, field and client id (secret-contexts.ts). */
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

  /**
   * Idempotent: a credential set already imported (any status) is left as it is.
   * `secret` is the blob as stored where it comes from (`secretFrom`, e.g. the
   * event's inbox record); it is re-encrypted for this collection.
   */
  async importPending(
    input: Omit<UsableCredentials, 'secret'> & { secret: EncryptedBlob; secretFrom: SecretContext; sourceEventId: string },
  ): Promise<void> {
    const { secret: source, secretFrom, ...facts } = input;
    // Imported before ids were escaped, under its legacy id: already there.
    const legacy = idFilters(input.installationId, input.clientId)[1];
    if (legacy && (await this.creds.findOne(legacy))) return;
    const secret = rebind(this.keyring, source, secretFrom, credentialSecretContext(input.installationId, input.clientId));
    await this.creds.updateOne(
      { _id: credentialId(input.installationId, input.clientId) },
      { $setOnInsert: { ...facts, secret, status: 'pending', createdAt: new Date() } },
      { upsert: true },
    );
  }

  async get(installationId: string, clientId: string): Promise<CredentialRecord | null> {
    for (const filter of idFilters(installationId, clientId)) {
      const rec = await this.creds.findOne(filter);
      if (rec) return rec;
    }
    return null;
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
      secret: decryptJson<CredentialSecret>(this.keyring, rec.secret, credentialSecretContext(installationId, clientId)),
    };
  }

  /** A secret encrypted as this store keeps it (tests and tools that seed a set). */
  encryptSecret(installationId: string, clientId: string, secret: CredentialSecret): EncryptedBlob {
    return encryptJson(this.keyring, secret, credentialSecretContext(installationId, clientId));
  }

  /** Applies `update` to the set's record, wherever it sits (see idFilters); true when one changed. */
  private async updateSet(installationId: string, clientId: string, extra: object, update: object): Promise<boolean> {
    let changed = false;
    for (const filter of idFilters(installationId, clientId)) {
      const res = await this.creds.updateOne({ ...filter, ...extra } as never, update);
      if (res.modifiedCount > 0) changed = true;
    }
    return changed;
  }

  async activate(installationId: string, clientId: string): Promise<void> {
    await this.updateSet(
      installationId,
      clientId,
      { status: { $in: ['pending', 'active'] } },
      { $set: { status: 'active', activatedAt: new Date() } },
    );
  }

  async scheduleRetirement(installationId: string, clientId: string, retireAt: Date): Promise<void> {
    await this.updateSet(installationId, clientId, { status: { $ne: 'destroyed' } }, { $set: { status: 'retiring', retireAt } });
  }

  /** Removes the ciphertext itself and every cached token made with it. */
  async destroy(installationId: string, clientId: string): Promise<boolean> {
    const changed = await this.updateSet(
      installationId,
      clientId,
      { status: { $ne: 'destroyed' } },
      { $set: { status: 'destroyed', destroyedAt: new Date() }, $unset: { secret: '' } },
    );
    await this.tokens.deleteMany({ installationId, clientId });
    return changed;
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
    return this.creds
      .find({ status: 'retiring', retireAt: { $lte: now } })
      .limit(limit)
      .toArray();
  }

  async cachedToken(installationId: string, clientId: string, minValidityMs: number): Promise<string | undefined> {
    let rec: TokenRecord | null = null;
    for (const filter of idFilters(installationId, clientId)) if (!rec) rec = await this.tokens.findOne(filter);
    if (!rec || rec.expiresAt.getTime() - Date.now() < minValidityMs) return undefined;
    return decryptJson<string>(this.keyring, rec.token, tokenContext(installationId, clientId));
  }

  async cacheToken(installationId: string, clientId: string, token: string, scope: string, expiresAt: Date): Promise<void> {
    await this.tokens.updateOne(
      { _id: credentialId(installationId, clientId) },
      {
        $set: {
          installationId,
          clientId,
          scope,
          expiresAt,
          token: encryptJson(this.keyring, token, tokenContext(installationId, clientId)),
        },
      },
      { upsert: true },
    );
  }

  async dropTokens(installationId: string): Promise<void> {
    await this.tokens.deleteMany({ installationId });
  }
}
