import type { Collection } from 'mongodb';
import { decryptJson, encryptJson, rebind, type EncryptedBlob, type Keyring, type SecretContext } from '../crypto/secrets';
import { COLLECTIONS, onceMoreIfDuplicate, type Database } from './db';
import { MARKERS, StoreMarkers } from './markers';
import { credentialId, legacyCredentialId } from './credential-ids';
import { keptByDestroy, type CopiesKept } from './event-credentials';
import { ClientIdReusedError } from './credential-errors';
import { credentialSecretContext, tokenContext } from './secret-contexts';
export { credentialId, legacyCredentialId };
import type {
  CredentialClosesRecord,
  CredentialRecord,
  CredentialSecret,
  CredentialSetsRecord,
  CredentialStatus,
  TokenRecord,
  UsableCredentials,
} from './credential-records';
export type { CredentialRecord, CredentialSecret, CredentialSetsRecord, CredentialStatus, UsableCredentials } from './credential-records';

/** A set a close spares: imported after the close began, for an event the close keeps (`destroyAll`). */
const sparedBy = (closedAt: Date, kept: CopiesKept, set: CredentialRecord): boolean =>
  set.createdAt > closedAt && keptByDestroy(kept, { _id: set.sourceEventId, createdAt: set.issuedAt });
const byCreatedAt = (a: CredentialRecord, b: CredentialRecord) => a.createdAt.getTime() - b.createdAt.getTime();

/**
 * Credentials and cached access tokens, encrypted and bound to their installation, field and client id (secret-contexts.ts).
 *
 * Every read and write of the install, rotation and uninstall paths is by `_id` (the one filter the embedded
 * FerretDB does not answer by reading the whole collection): a set's `_id` comes from its installation and
 * client ids, and the installation's client ids from its index document in `credential_sets`, written where
 * a set is imported. Installations whose sets an older version stored are indexed once at start
 * (`indexStoredSets`); until then an import adds them from a read by installation.
 */
type CachedGrant = { token: string; expiresAt: Date; scope: string };

export class CredentialStore {
  private readonly creds: Collection<CredentialRecord>;
  private readonly tokens: Collection<TokenRecord>;
  private readonly sets: Collection<CredentialSetsRecord>;
  private readonly closes: Collection<CredentialClosesRecord>;
  private readonly markers: StoreMarkers;
  constructor(
    db: Database,
    private readonly keyring: Keyring,
  ) {
    this.creds = db.collection<CredentialRecord>(COLLECTIONS.credentials);
    this.tokens = db.collection<TokenRecord>(COLLECTIONS.tokens);
    this.sets = db.collection<CredentialSetsRecord>(COLLECTIONS.credentialSets);
    this.closes = db.collection<CredentialClosesRecord>(COLLECTIONS.credentialCloses);
    this.markers = new StoreMarkers(db);
  }

  async ensureIndexes(): Promise<void> {
    await this.creds.createIndex({ installationId: 1, status: 1 });
    await this.creds.createIndex({ status: 1, retireAt: 1 });
    await this.tokens.createIndex({ installationId: 1 });
  }

  /**
   * Idempotent: a credential set already imported is left as it is; destroyed, only another event's import
   * writes it again (a reinstall under the same ids).
   * `secret` is the blob as stored where it comes from (`secretFrom`, e.g. the
   * event's inbox record); it is re-encrypted for this collection.
   */
  async importPending(
    input: Omit<UsableCredentials, 'secret'> & { secret: EncryptedBlob; secretFrom: SecretContext; sourceEventId: string },
  ): Promise<void> {
    const { secret: source, secretFrom, ...facts } = input;
    // Imported before ids were escaped, under its legacy id: already there; unless destroyed and this is another
    // event's (a same-id reinstall given the same client), written anew under the escaped id, which `get` reads first.
    // Read as `get` reads: a record under the escaped id governs (a migration interrupted after its copy and before
    // the legacy record's delete leaves both, the legacy one as it was: active though its copy was destroyed since).
    const legacy = await this.findLegacy(input.installationId, input.clientId);
    const held = legacy && !(legacy.status === 'destroyed' && legacy.sourceEventId !== input.sourceEventId);
    if (held && !(await this.creds.findOne({ _id: credentialId(input.installationId, input.clientId) }))) return;
    // Indexed first: a set is never stored without its index entry (an entry without a set is skipped).
    await this.index(input.installationId, input.clientId);
    const secret = rebind(this.keyring, source, secretFrom, credentialSecretContext(input.installationId, input.clientId));
    const _id = credentialId(input.installationId, input.clientId);
    const res = await this.creds.updateOne(
      { _id },
      { $setOnInsert: { ...facts, secret, status: 'pending', createdAt: new Date() } },
      { upsert: true },
    );
    if (res.upsertedCount > 0) return;
    // A set destroyed in an earlier life of the installation (a reinstall under the same installation and client
    // ids) is written anew by another event's import: left destroyed, the reinstall had no credentials and its copy
    // was deleted. Never by its own event's import (one racing the uninstall's destroy must not bring it back).
    const existing = await this.creds.findOne({ _id });
    // Another event's set under this client id with another key (a rotation of the key only, which the reference
    // never shows): refused, so that the caller keeps the event's copy instead of dropping it as imported.
    if (existing && existing.status !== 'destroyed' && existing.sourceEventId !== input.sourceEventId && existing.keyId !== input.keyId)
      throw new ClientIdReusedError(input.installationId, input.clientId);
    if (existing?.status === 'destroyed' && existing.sourceEventId !== input.sourceEventId) {
      await this.creds.updateOne(
        { _id },
        {
          $set: { ...facts, secret, status: 'pending', createdAt: new Date() },
          $unset: { destroyedAt: '', activatedAt: '', retireAt: '' },
        },
      );
    }
  }

  /**
   * How many times `destroyAll` ran for the installation. An import reads it before it reads the event's
   * copy and again after its last write of the set: when it moved, a destroy-all ran meanwhile (an attempt
   * the workflow stopped waiting for, outliving the uninstall) and may have listed the sets before this one
   * was written, so the import destroys it (`closedOver`: unless that close spared it). `destroyAll` counts before it
   * lists, and the uninstall deletes the events' copies it does not keep before that, so an import that reads the
   * count after it finds no copy to import, or imports a copy that close spares.
   */
  async closeCount(installationId: string): Promise<number> {
    return (await this.closes.findOne({ _id: installationId }))?.closes ?? 0;
  }

  /** Adds a set to its installation's index; before the start-up indexing, with the sets an older version stored. */
  private async index(installationId: string, clientId: string): Promise<void> {
    let clientIds = [clientId];
    if (!(await this.markers.isSetPermanently(MARKERS.credentialSets)) && !(await this.sets.findOne({ _id: installationId }))) {
      const stored = await this.creds.find({ installationId }, { projection: { clientId: 1 } }).toArray();
      clientIds = [...new Set([...stored.map((r) => r.clientId), clientId])];
    }
    await this.sets.updateOne(
      { _id: installationId },
      { $addToSet: { clientIds: { $each: clientIds } }, $set: { updatedAt: new Date() } },
      { upsert: true },
    );
  }

  /**
   * At start (`Store.prepare`): indexes every stored set once, then remembers it in a marker, so that
   * later imports need no read by installation. Returns how many sets were read (0 once done).
   */
  async indexStoredSets(): Promise<number> {
    if (await this.markers.isSetPermanently(MARKERS.credentialSets)) return 0;
    const stored = await this.creds.find({}, { projection: { installationId: 1, clientId: 1 } }).toArray();
    const byInstallation = new Map<string, Set<string>>();
    for (const r of stored) byInstallation.set(r.installationId, (byInstallation.get(r.installationId) ?? new Set()).add(r.clientId));
    for (const [installationId, clientIds] of byInstallation) {
      await this.sets.updateOne(
        { _id: installationId },
        { $addToSet: { clientIds: { $each: [...clientIds] } }, $set: { updatedAt: new Date() } },
        { upsert: true },
      );
    }
    await this.markers.set(MARKERS.credentialSets);
    return stored.length;
  }

  /** The installation's client ids from its index; undefined when it has none (no set imported by this version). */
  private async indexedClientIds(installationId: string): Promise<string[] | undefined> {
    return (await this.sets.findOne({ _id: installationId }))?.clientIds;
  }

  /** The set's record under the legacy id, if that id differs and the record there says it is this set. */
  private async findLegacy(installationId: string, clientId: string): Promise<CredentialRecord | null> {
    const legacy = legacyCredentialId(installationId, clientId);
    if (legacy === credentialId(installationId, clientId)) return null;
    // A collided legacy record belongs to whoever wrote it: checked here, the read stays an exact {_id}.
    const rec = await this.creds.findOne({ _id: legacy });
    return rec?.installationId === installationId && rec.clientId === clientId ? rec : null;
  }

  /** One credential set by its id, or while it may still sit under a different legacy id, there. */
  async get(installationId: string, clientId: string): Promise<CredentialRecord | null> {
    return (await this.creds.findOne({ _id: credentialId(installationId, clientId) })) ?? this.findLegacy(installationId, clientId);
  }

  /** The installation's sets, oldest first: from its index, or (not indexed: an older version's) read by installation. */
  async list(installationId: string): Promise<CredentialRecord[]> {
    const clientIds = await this.indexedClientIds(installationId);
    if (!clientIds) return this.creds.find({ installationId }).sort({ createdAt: 1 }).toArray();
    const recs = await Promise.all(clientIds.map((c) => this.get(installationId, c)));
    return recs.filter((r): r is CredentialRecord => r !== null).sort(byCreatedAt);
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
      importedAt: rec.createdAt,
      issuedAt: rec.issuedAt,
    };
  }

  /** A secret encrypted as this store keeps it (tests and tools that seed a set). */
  encryptSecret(installationId: string, clientId: string, secret: CredentialSecret): EncryptedBlob {
    return encryptJson(this.keyring, secret, credentialSecretContext(installationId, clientId));
  }

  /**
   * Applies `update` if the set's status allows it; true when it changed. The set's writer is its workflow (one
   * activity at a time); the retention backstop, the only other, destroys sets only in the status it listed them
   * with (`expected`, in the write's filter), so a set switched to meanwhile is kept.
   */
  private async updateSet(
    installationId: string,
    clientId: string,
    allowed: (rec: CredentialRecord) => boolean,
    update: object,
    expected?: CredentialStatus,
  ): Promise<boolean> {
    const rec = await this.get(installationId, clientId);
    if (!rec || !allowed(rec) || (expected !== undefined && rec.status !== expected)) return false;
    const res = await this.creds.updateOne(expected === undefined ? { _id: rec._id } : { _id: rec._id, status: expected }, update);
    return res.modifiedCount > 0;
  }

  async activate(installationId: string, clientId: string): Promise<void> {
    await this.updateSet(installationId, clientId, (r) => r.status === 'pending' || r.status === 'active', {
      $set: { status: 'active', activatedAt: new Date() },
    });
  }

  async scheduleRetirement(installationId: string, clientId: string, retireAt: Date): Promise<void> {
    await this.updateSet(installationId, clientId, (r) => r.status !== 'destroyed', { $set: { status: 'retiring', retireAt } });
  }

  /**
   * Removes the ciphertext itself and every cached token made with it. `expected`: only if the set still has
   * the status it was listed with (the backstop: a pending set its workflow switched to meanwhile is kept).
   * `listed`: only if it is still that set (same event, same import), not one imported over it since under its client
   * id (a same-id reinstall given the same client, while a destroy-all attempt that listed it stalled).
   */
  async destroy(installationId: string, clientId: string, expected?: CredentialStatus, listed?: CredentialRecord): Promise<boolean> {
    const update = { $set: { status: 'destroyed', destroyedAt: new Date() }, $unset: { secret: '' } };
    const same = (r: CredentialRecord) =>
      !listed || (r.sourceEventId === listed.sourceEventId && r.createdAt.getTime() === listed.createdAt.getTime());
    const changed = await this.updateSet(installationId, clientId, (r) => r.status !== 'destroyed' && same(r), update, expected);
    if (changed || expected === undefined) await this.dropToken(installationId, clientId);
    else {
      // Destroyed already, by another writer since the backstop listed it (its own drop may not have run): dropped now.
      const rec = await this.get(installationId, clientId);
      if (rec?.status === 'destroyed' && same(rec)) await this.dropToken(installationId, clientId);
    }
    return changed;
  }

  /**
   * Counted before the sets are listed, so that an import racing it destroys what it wrote (`closeCount`). A set
   * imported after the count moved, for an event `kept` names (a same-id reinstall's, whose copy the destroy spares),
   * is spared too: an attempt that outlived its timeout, listing after that reinstall's import (which read the count
   * moved already), must not destroy the set the reinstall runs on. Every set imported before is destroyed.
   */
  async destroyAll(installationId: string, kept: CopiesKept = {}): Promise<number> {
    const closedAt = new Date();
    const scope = { except: [...(kept.except ?? [])], keepNewerThan: kept.keepNewerThan ?? null };
    await this.closes.updateOne({ _id: installationId }, { $inc: { closes: 1 }, $set: { closedAt, kept: scope } }, { upsert: true });
    let n = 0;
    for (const rec of await this.list(installationId)) {
      if (sparedBy(closedAt, kept, rec)) continue;
      if (await this.destroy(installationId, rec.clientId, undefined, rec)) n += 1;
    }
    return n;
  }

  /**
   * Whether a close ran since an import read `closesBefore` that did not spare its set (see `destroyAll`): one close,
   * which spared it, lets the import stand; its count landing late (a stalled attempt) must not undo it. The set is
   * read only then.
   */
  async closedOver(installationId: string, clientId: string, closesBefore: number): Promise<boolean> {
    const rec = await this.closes.findOne({ _id: installationId });
    if ((rec?.closes ?? 0) === closesBefore) return false;
    if (rec?.closes !== closesBefore + 1 || !rec.kept) return true;
    const set = await this.get(installationId, clientId);
    const kept = { except: rec.kept.except, keepNewerThan: rec.kept.keepNewerThan ?? undefined };
    return !set || !sparedBy(rec.closedAt, kept, set);
  }

  /**
   * Credential sets whose retention ended before `now`: retiring sets past `retireAt`, and (with
   * `pendingBefore`) sets still pending that were imported before it: a rotation's set is switched to
   * or destroyed within its seven days, so one older was left behind (an import attempt that finished
   * after the uninstall destroyed the installation's sets).
   */
  listDueForDestruction(now: Date, limit = 100, pendingBefore?: Date): Promise<CredentialRecord[]> {
    const retiring = { status: 'retiring' as const, retireAt: { $lte: now } };
    const filter = pendingBefore ? { $or: [retiring, { status: 'pending' as const, createdAt: { $lte: pendingBefore } }] } : retiring;
    return this.creds.find(filter).limit(limit).toArray();
  }

  async cachedToken(installationId: string, clientId: string, minValidityMs: number): Promise<string | undefined> {
    return (await this.cachedTokenGrant(installationId, clientId, minValidityMs))?.token;
  }

  /** The cached token with its expiry and scope as granted; undefined without one valid `minValidityMs` more. */
  async cachedTokenGrant(installationId: string, clientId: string, minValidityMs: number): Promise<CachedGrant | undefined> {
    const rec =
      (await this.tokens.findOne({ _id: credentialId(installationId, clientId) })) ?? (await this.legacyToken(installationId, clientId));
    if (!rec || rec.expiresAt.getTime() - Date.now() < minValidityMs) return undefined;
    const token = decryptJson<string>(this.keyring, rec.token, tokenContext(installationId, clientId));
    return { token, expiresAt: rec.expiresAt, scope: rec.scope };
  }

  async cacheToken(installationId: string, clientId: string, token: string, scope: string, expiresAt: Date): Promise<void> {
    // Two requesters caching at once (an activity beside reconciliation's read): on FerretDB the loser's upsert is E11000.
    const sealed = encryptJson(this.keyring, token, tokenContext(installationId, clientId));
    const $set = { installationId, clientId, scope, expiresAt, token: sealed };
    await onceMoreIfDuplicate(() => this.tokens.updateOne({ _id: credentialId(installationId, clientId) }, { $set }, { upsert: true }));
    // A destroy that ran while the token was requested (it marks the set, then drops its token): not kept for it.
    const set = await this.get(installationId, clientId);
    if (!set || set.status === 'destroyed' || !set.secret) await this.dropToken(installationId, clientId);
  }

  /** A token cached under the set's legacy id (see `findLegacy`). */
  private async legacyToken(installationId: string, clientId: string): Promise<TokenRecord | null> {
    const legacy = legacyCredentialId(installationId, clientId);
    if (legacy === credentialId(installationId, clientId)) return null;
    const rec = await this.tokens.findOne({ _id: legacy });
    return rec?.installationId === installationId && rec.clientId === clientId ? rec : null;
  }

  /**
   * Deletes the set's cached token, by `_id`: the legacy id first, the current one last, so a re-encryption run moving it
   * between the two (copied to the current id, the legacy one deleted) leaves nothing behind.
   */
  private async dropToken(installationId: string, clientId: string): Promise<void> {
    const legacy = await this.legacyToken(installationId, clientId);
    if (legacy) await this.tokens.deleteOne({ _id: legacy._id });
    await this.tokens.deleteOne({ _id: credentialId(installationId, clientId) });
  }

  /**
   * Deletes cached tokens past their expiry (the daily backstop; reads the whole collection on the embedded store): one
   * a failed drop left behind (a destroy whose token drop did not land) goes with its ciphertext, not kept for good.
   */
  async sweepExpiredTokens(now: Date): Promise<number> {
    return (await this.tokens.deleteMany({ expiresAt: { $lt: now } })).deletedCount;
  }

  /** Drops every cached token of the installation: one per indexed set, by `_id` (not indexed: by installation). */
  async dropTokens(installationId: string): Promise<void> {
    const clientIds = await this.indexedClientIds(installationId);
    if (!clientIds) {
      await this.tokens.deleteMany({ installationId });
      return;
    }
    for (const clientId of clientIds) await this.dropToken(installationId, clientId);
  }
}
