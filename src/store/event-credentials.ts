import { MongoServerError, type Collection } from 'mongodb';
import { encryptJson, type EncryptedBlob, type Keyring } from '../crypto/secrets';
import type { EventCredentials } from '../events/schemas';
import { credentialId } from './credentials';
import { COLLECTIONS, DURABLE_WRITE, MAJORITY_READ, NotDurableYetError, deleteByIds, type Database } from './db';
import { eventCredentialsContext } from './secret-contexts';

/**
 * The credentials an `app.installed` or `app.credentials_rotated` event brought,
 * encrypted, from the callback until the workflow's import activity moves them to the
 * credential store. Kept apart from the inbox record so that the record's hand-over
 * mark and the credentials have different writers (README.md in this folder).
 */
export interface EventCredentialRecord {
  _id: string; // the event id
  installationId: string;
  /** The Talkdesk client id of the set: part of the blob's binding (secret-contexts.ts). */
  clientId: string;
  secret: EncryptedBlob;
  /** The set's key id and algorithm (not secret; absent in copies older versions stored): a repeat must bring the same. */
  keyId?: string;
  keyAlgorithm?: string;
  storedAt: Date;
  /** The event's Talkdesk time (absent in copies older versions stored): which copies a destroy keeps. */
  eventCreatedAt?: Date;
}

/** The event a copy belongs to, as the inbox stores it. */
export interface EventCredentialOwner {
  eventId: string;
  installationId: string;
  createdAt: Date;
  storedAt: Date;
}

/**
 * What a destroy of an installation's copies spares: events named (`except`), and events newer than
 * the one whose phase ends (`keepNewerThan`: a reinstall under the same installation id, or its
 * rotation, stored but perhaps not yet in the workflow). Copies exist for installs and rotations only.
 */
export interface CopiesKept {
  except?: readonly string[];
  keepNewerThan?: Date;
}

/** Whether a destroy keeps the copy of this event (the legacy inbox path decides it in code: `CopiesKept`). */
export function keptByDestroy(kept: CopiesKept, event: { _id: string; createdAt?: Date }): boolean {
  if (kept.except?.includes(event._id)) return true;
  return Boolean(kept.keepNewerThan && event.createdAt && event.createdAt > kept.keepNewerThan);
}

/** An event's credentials as the callback hands them to the inbox: encrypted, with the client id they are bound to. */
export interface SealedEventCredentials {
  clientId: string;
  secret: EncryptedBlob;
  /** Not secret: compared with a repeat's (`put`), whose blob cannot be (a fresh IV each time). */
  keyId?: string;
  keyAlgorithm?: string;
}

/** What is encrypted: the secret parts of the event, nothing else. */
export type EventSecret = Pick<EventCredentials, 'clientSecret' | 'privateKey' | 'publicKey'>;

/**
 * Every encryption of event credentials goes through here (the callback's only call
 * into the secret store), so that the additional data bound to them is chosen in one place.
 */
export function sealEventCredentials(
  keyring: Keyring,
  installationId: string,
  creds: EventSecret & { clientId: string; keyId?: string; keyAlgorithm?: string },
): SealedEventCredentials {
  const secret = encryptJson(
    keyring,
    { clientSecret: creds.clientSecret, privateKey: creds.privateKey, publicKey: creds.publicKey },
    eventCredentialsContext(installationId, creds.clientId),
  );
  const key = creds.keyId !== undefined ? { keyId: creds.keyId, keyAlgorithm: creds.keyAlgorithm } : {};
  return { clientId: creds.clientId, secret, ...key };
}

/** Older versions kept the blob in the inbox record's `credentials` field. */
interface LegacyInboxCredentials {
  _id: string;
  credentials?: EncryptedBlob;
}

export class EventCredentialStore {
  private readonly coll: Collection<EventCredentialRecord>;
  private readonly inbox: Collection<LegacyInboxCredentials>;
  private readonly sets: Collection<{ _id: string; sourceEventId?: string }>;
  constructor(db: Database) {
    this.coll = db.collection<EventCredentialRecord>(COLLECTIONS.eventCredentials);
    this.inbox = db.collection<LegacyInboxCredentials>(COLLECTIONS.inbox);
    this.sets = db.collection(COLLECTIONS.credentials);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ installationId: 1 });
  }

  /**
   * Stores an event's credentials (the callback, before the inbox record). A repeat changes nothing: `repeat`.
   * `conflict`: the id holds another event's copy (another installation, client, key or time: an earlier delivery whose
   * record was never written, then a different body under its id), which must not be taken for this one's.
   * Throws NotDurableYetError when the id's copy is not on a majority yet (an earlier delivery's, answered 503).
   */
  async put(owner: EventCredentialOwner, sealed: SealedEventCredentials): Promise<'stored' | 'repeat' | 'conflict'> {
    const { eventId, installationId, createdAt, storedAt } = owner;
    try {
      await this.coll.insertOne(
        {
          _id: eventId,
          installationId,
          clientId: sealed.clientId,
          secret: sealed.secret,
          ...(sealed.keyId !== undefined ? { keyId: sealed.keyId, keyAlgorithm: sealed.keyAlgorithm } : {}),
          storedAt,
          eventCreatedAt: createdAt,
        },
        DURABLE_WRITE,
      );
      return 'stored';
    } catch (e) {
      if (!(e instanceof MongoServerError && e.code === 11000)) throw e;
      // Read at majority: an earlier delivery's copy whose majority wait failed (answered 503) may be on the primary
      // alone; taken for a repeat, the record written next would be answered 2xx for a copy a failover rolls back.
      const held = await this.coll.findOne(
        { _id: eventId },
        { projection: { installationId: 1, clientId: 1, eventCreatedAt: 1, keyId: 1, keyAlgorithm: 1 }, ...MAJORITY_READ },
      );
      if (held === null) throw new NotDurableYetError();
      const other =
        held.installationId !== installationId ||
        held.clientId !== sealed.clientId ||
        (held.eventCreatedAt !== undefined && held.eventCreatedAt.getTime() !== createdAt.getTime()) ||
        // Another key pair under the same client (a different body): the import would pair one's key id with the other's key.
        (held.keyId !== undefined &&
          sealed.keyId !== undefined &&
          (held.keyId !== sealed.keyId || held.keyAlgorithm !== sealed.keyAlgorithm));
      return other ? 'conflict' : 'repeat';
    }
  }

  /**
   * Deletes the event's copy if the credential set it brought was imported (the set names the event;
   * destroyed since or not); true when it did. For a repeated delivery that stored a copy again after
   * the first one's was imported and deleted (`InboxStore.insert`). Safe in any order with the import,
   * which writes the set before it deletes the copy: a copy stored before the set was written is
   * deleted by the import, one stored after is found here.
   */
  async deleteIfImported(eventId: string, installationId: string, clientId: string): Promise<boolean> {
    const set = await this.sets.findOne({ _id: credentialId(installationId, clientId) }, { projection: { sourceEventId: 1 } });
    return set?.sourceEventId === eventId ? this.delete(eventId) : false;
  }

  /**
   * The event's encrypted credentials, and whether they were read from an inbox record
   * an older version wrote (its copy is dropped after the import: `InboxStore.dropLegacyCredentials`).
   */
  async get(eventId: string): Promise<{ secret: EncryptedBlob; inInbox: boolean } | undefined> {
    const rec = await this.coll.findOne({ _id: eventId });
    if (rec) return { secret: rec.secret, inInbox: false };
    const legacy = await this.inbox.findOne({ _id: eventId }, { projection: { credentials: 1 } });
    if (legacy?.credentials) return { secret: legacy.credentials, inInbox: true };
    // Moved between the two reads (a worker starting: `moveLegacyCredentials` writes here, then strips the inbox).
    const moved = await this.coll.findOne({ _id: eventId });
    return moved ? { secret: moved.secret, inInbox: false } : undefined;
  }

  /** Deletes the event's copy if it is this installation's and client's (one a refused delivery stored). */
  async deleteCopy(eventId: string, installationId: string, clientId: string): Promise<boolean> {
    return (await this.coll.deleteOne({ _id: eventId, installationId, clientId })).deletedCount > 0;
  }

  /** Deletes one event's copy (imported, or never to be); true when there was one. */
  async delete(eventId: string): Promise<boolean> {
    return (await this.coll.deleteOne({ _id: eventId })).deletedCount > 0;
  }

  /** Deletes the copies of these events (inbox retention: events no workflow will import now); returns how many. */
  async deleteEvents(eventIds: readonly string[]): Promise<number> {
    return deleteByIds(this.coll, eventIds);
  }

  /** Deletes every event credential copy of an installation (uninstall, rejection, expiry) but those `kept` spares. */
  async deleteAll(installationId: string, kept: CopiesKept = {}): Promise<number> {
    const res = await this.coll.deleteMany({
      installationId,
      ...(kept.except?.length ? { _id: { $nin: [...kept.except] } } : {}),
      // keptByDestroy, as a filter (a copy older versions stored has no eventCreatedAt: not kept by time).
      ...(kept.keepNewerThan ? { $nor: [{ eventCreatedAt: { $gt: kept.keepNewerThan } }] } : {}),
    });
    return res.deletedCount;
  }
}
