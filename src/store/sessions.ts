import { createHash, randomBytes } from 'node:crypto';
import type { Collection } from 'mongodb';
import { escapeIdPart } from './credential-ids';
import { COLLECTIONS, upsertById, upsertManyById, type Database } from './db';

export type SessionRole = 'admin' | 'user';

/**
 * A signed-in user's session. The browser holds only an opaque random id; the store keeps
 * its SHA-256, so a copy of the collection opens no session. No Talkdesk token is kept.
 */
export interface SessionRecord {
  _id: string; // sha256(session id), hex
  installationId: string;
  accountId: string;
  talkdeskUserId: string;
  name?: string;
  email?: string;
  role: SessionRole;
  /** The Talkdesk widget link at sign-in ('' when none); absent on sessions of earlier versions. */
  widgetUrl?: string;
  /** When its sign-in began (/launch issued its state): a logout dated before it does not end it. Absent on earlier sessions. */
  signInAt?: Date;
  createdAt: Date;
  expiresAt: Date;
}

/**
 * The latest time Talkdesk said a user of an installation logged out (its created_at, at most its arrival),
 * or removed them. Not swept: one small document per user that ever logged out or was removed, read by
 * `_id` only (a sweep's delete could race a new mark on FerretDB).
 */
interface LogoutMark {
  /**
   * `${installationId}:${talkdeskUserId}` for a logout; `${installationId}:${talkdeskUserId}:removed` for a
   * removal (app.updated), `${installationId}:*:removed` for an uninstall: documents of their own, as each
   * has its own writer (FerretDB rewrites the whole document: two writers of one could lose a time).
   */
  _id: string;
  at: Date;
  /** A removal's newest `created_at` (Talkdesk's clock), beside `at`, when it was received. */
  eventAt?: Date;
}

/** What Talkdesk said of a user since a sign-in began: logged out, removed, or the app uninstalled (absent: never). */
export interface EndingMarks {
  loggedOutAt?: Date;
  removedAt?: Date;
  /** That removal's `created_at` (absent for marks older versions wrote). */
  removalEventAt?: Date;
  uninstalledAt?: Date;
}

// Ids may hold `:` (escaped: "a:b"+"c" and "a"+"b:c" must not share a mark); ids without `:` or `%` keep their form.
const markId = (installationId: string, talkdeskUserId: string) => `${escapeIdPart(installationId)}:${escapeIdPart(talkdeskUserId)}`;
const removalId = (installationId: string, talkdeskUserId: string) => `${markId(installationId, talkdeskUserId)}:removed`;
const ALL_USERS = '*';
/** Sessions whose sign-in began by `beganBy` (one without `signInAt`, from earlier versions, counts); all without it. */
const beganByThen = (beganBy?: Date) => (beganBy ? { $or: [{ signInAt: { $exists: false } }, { signInAt: { $lte: beganBy } }] } : {});

export const hashId = (value: string): string => createHash('sha256').update(value).digest('hex');
export const randomId = (): string => randomBytes(32).toString('base64url');

/** Sessions in MongoDB. FerretDB has no TTL index: expiry is checked on every read and swept. */
export class SessionStore {
  readonly coll: Collection<SessionRecord>;
  private readonly logouts: Collection<LogoutMark>;
  constructor(db: Database) {
    this.coll = db.collection<SessionRecord>(COLLECTIONS.sessions);
    this.logouts = db.collection<LogoutMark>(COLLECTIONS.ssoLogouts);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ installationId: 1, talkdeskUserId: 1 });
    await this.coll.createIndex({ expiresAt: 1 });
  }

  /** Opens a session; returns the id for the cookie (never stored). */
  async open(s: Omit<SessionRecord, '_id' | 'createdAt' | 'expiresAt'>, ttlMs: number, now = new Date()): Promise<string> {
    const id = randomId();
    await this.coll.insertOne({ ...s, _id: hashId(id), createdAt: now, expiresAt: new Date(now.getTime() + ttlMs) });
    return id;
  }

  /** The live session for a cookie value; an expired one is deleted and not returned. */
  async find(id: string, now = new Date()): Promise<SessionRecord | undefined> {
    const rec = await this.coll.findOne({ _id: hashId(id) });
    if (!rec) return undefined;
    if (rec.expiresAt.getTime() <= now.getTime()) {
      await this.coll.deleteOne({ _id: rec._id });
      return undefined;
    }
    return rec;
  }

  async end(id: string): Promise<void> {
    await this.coll.deleteOne({ _id: hashId(id) });
  }

  /**
   * Ends the sessions of a user of an installation whose sign-in began no later than `beganBy` (user.logout: its time
   * plus the clocks' allowance, as a sign-in under way is judged). A logout delivered late, or again after a 503,
   * leaves a session the user opened after it; one without `signInAt` (earlier versions) is ended. Idempotent.
   */
  async endForUser(installationId: string, talkdeskUserId: string, beganBy: Date): Promise<number> {
    return (await this.coll.deleteMany({ installationId, talkdeskUserId, ...beganByThen(beganBy) })).deletedCount;
  }

  /** Ends every session of these users of an installation (users removed by an update), in one command; with `beganBy`, those that began by then. */
  async endForUsers(installationId: string, talkdeskUserIds: readonly string[], beganBy?: Date): Promise<number> {
    if (talkdeskUserIds.length === 0) return 0;
    return (await this.coll.deleteMany({ installationId, talkdeskUserId: { $in: [...talkdeskUserIds] }, ...beganByThen(beganBy) }))
      .deletedCount;
  }

  /** The users among these whose sessions of the installation began after `since` (a removal delivered again). */
  async usersSignedInSince(installationId: string, talkdeskUserIds: readonly string[], since: Date): Promise<string[]> {
    if (talkdeskUserIds.length === 0) return [];
    const began = { installationId, talkdeskUserId: { $in: [...talkdeskUserIds] }, signInAt: { $gt: since } };
    const found = await this.coll.find(began, { projection: { talkdeskUserId: 1 } }).toArray();
    return [...new Set(found.map((f) => f.talkdeskUserId))];
  }

  /** Ends every session of an installation (uninstall); with `beganBy`, those that began by then (an earlier life's). */
  async endForInstallation(installationId: string, beganBy?: Date): Promise<number> {
    return (await this.coll.deleteMany({ installationId, ...beganByThen(beganBy) })).deletedCount;
  }

  /**
   * Talkdesk said the user logged out at `at` (user.logout's created_at): written before their sessions
   * are ended, so that a sign-in under way (its Talkdesk authorization perhaps older than the logout) that
   * opens its session after they were ended finds it (`endingMarks`) and ends its own.
   */
  async markLoggedOut(installationId: string, talkdeskUserId: string, at: Date): Promise<void> {
    await upsertById(this.logouts, markId(installationId, talkdeskUserId), { $max: { at } });
  }

  /**
   * Talkdesk removed these users (an app.updated) or every user (an uninstall, none named) at `at`: written
   * before their sessions are ended, so that a sign-in does not outlive it while the workflow has not applied
   * it yet (seconds, or hours while the partner's hook or Temporal is down). One command for any number.
   */
  async markRemoved(installationId: string, at: Date, talkdeskUserIds?: readonly string[], eventAt?: Date): Promise<void> {
    const ids = (talkdeskUserIds ?? [ALL_USERS]).map((u) => removalId(installationId, u));
    await upsertManyById(this.logouts, ids, { $max: { at, ...(eventAt ? { eventAt } : {}) } });
  }

  /** The marks a sign-in checks once its session is open: the user's logout and removal, the uninstall; three reads by `_id` at once. */
  async endingMarks(installationId: string, talkdeskUserId: string): Promise<EndingMarks> {
    const ids = [markId(installationId, talkdeskUserId), removalId(installationId, talkdeskUserId), removalId(installationId, ALL_USERS)];
    // Ids with `:` or `%` had their marks under the unescaped form before: read both while such marks may be pending
    // (an old mark may then be another id's that joined to the same text, as it was before).
    const legacy = [
      `${installationId}:${talkdeskUserId}`,
      `${installationId}:${talkdeskUserId}:removed`,
      `${installationId}:${ALL_USERS}:removed`,
    ];
    const read = (id: string) => this.logouts.findOne({ _id: id });
    const latestOf = async (i: number) => {
      const [now, before] = await Promise.all([read(ids[i]!), legacy[i] === ids[i] ? null : read(legacy[i]!)]);
      return now && before ? (now.at > before.at ? now : before) : (now ?? before);
    };
    const [loggedOut, removed, uninstalled] = await Promise.all([0, 1, 2].map(latestOf));
    return { loggedOutAt: loggedOut?.at, removedAt: removed?.at, removalEventAt: removed?.eventAt, uninstalledAt: uninstalled?.at };
  }

  async sweep(now = new Date()): Promise<number> {
    return (await this.coll.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
  }
}
