import type { Collection } from 'mongodb';
import { COLLECTIONS, type Database } from '../store/db';
import { hashId } from '../store/sessions';

/** Lifetime of a sign-in `state`. */
export const STATE_TTL_MS = 10 * 60_000;

/**
 * One sign-in in flight: `state` sent to Talkdesk, kept server-side by its hash with the
 * installation, the `nonce`, and the hash of the browser's `appconnect_sso` cookie.
 */
interface StateRecord {
  _id: string; // sha256(state)
  installationId: string;
  /** Absent on a spent marker of a state the browser kept (sealed-state.ts). */
  nonce?: string;
  browser?: string; // sha256(cookie value)
  /** `talkdesk_user_id` of the launch: a hint, only compared with /users/me for the log. */
  userHint?: string;
  /** The installation's token, userinfo and widget links as /launch read them, so the callback need not read them again. */
  links?: StateLinks;
  createdAt: Date;
  expiresAt: Date;
  usedAt?: Date;
}

/** The id of a state's spent marker: a copy of the state, swept with it (same `expiresAt`). */
const spentId = (id: string): string => `${id}:spent`;

export interface StateLinks {
  tokens?: string;
  userinfo?: string;
  widgetUrl?: string;
}

export type StateCheck =
  | {
      ok: true;
      installationId: string;
      nonce: string;
      issuedAt: Date;
      userHint?: string;
      links?: StateLinks;
      partnerState?: string;
      /** The client the authorization was asked for: its code is exchanged by that client. */
      clientId?: string;
    }
  | { ok: false; why: 'unknown' | 'expired' | 'replayed' | 'other_browser'; installationId?: string };

/** How long a spent marker outlives its state: more than the clock skew between web processes. */
export const SPENT_MARKER_SLACK_MS = 5 * 60_000;

export class SsoStateStore {
  private readonly coll: Collection<StateRecord>;
  constructor(db: Database) {
    this.coll = db.collection<StateRecord>(COLLECTIONS.ssoStates);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ expiresAt: 1 });
  }

  async create(
    state: string,
    s: { installationId: string; nonce: string; browser: string; userHint?: string; links?: StateLinks },
    now = new Date(),
  ): Promise<void> {
    await this.coll.insertOne({
      _id: hashId(state),
      ...(s.userHint ? { userHint: s.userHint } : {}),
      ...(s.links ? { links: s.links } : {}),
      installationId: s.installationId,
      nonce: s.nonce,
      browser: hashId(s.browser),
      createdAt: now,
      expiresAt: new Date(now.getTime() + STATE_TTL_MS),
    });
  }

  /**
   * Accepts a state once: known, unexpired, unused and from the browser it was issued to.
   * The browser is checked before the state is spent, so a state stolen into another
   * browser cannot burn the real user's sign-in. Every command names one document by its
   * `_id` (the only filter the embedded store does not answer by reading the collection).
   * Spending inserts a marker under an id of its own: of two callbacks racing with the
   * same state, the store's unique `_id` lets exactly one insert it (an update conditioned
   * on `usedAt` is not atomic on FerretDB 1.24: both may win). `usedAt` on the state itself
   * is what earlier versions set, still honoured.
   */
  async consume(state: string, browser: string | undefined, now = new Date()): Promise<StateCheck> {
    const id = hashId(state);
    const rec = await this.coll.findOne({ _id: id });
    if (!rec) return { ok: false, why: 'unknown' };
    const base = { installationId: rec.installationId };
    if (rec.usedAt) return { ok: false, why: 'replayed', ...base };
    if (rec.expiresAt.getTime() <= now.getTime()) return { ok: false, why: 'expired', ...base };
    if (!browser || hashId(browser) !== rec.browser) return { ok: false, why: 'other_browser', ...base };
    try {
      await this.coll.insertOne({ ...rec, _id: spentId(id), usedAt: now });
    } catch (err) {
      if ((err as { code?: unknown }).code === 11000) return { ok: false, why: 'replayed', ...base };
      throw err;
    }
    return {
      ok: true,
      installationId: rec.installationId,
      nonce: rec.nonce ?? '',
      issuedAt: rec.createdAt,
      ...(rec.userHint ? { userHint: rec.userHint } : {}),
      ...(rec.links ? { links: rec.links } : {}),
    };
  }

  /**
   * Spends a state the browser kept (sealed-state.ts): inserts its spent marker, the same
   * `_id` as the stored form's, kept SPENT_MARKER_SLACK_MS past the state's expiry (so a sweep on a
   * web process whose clock runs ahead cannot free a state another process still accepts).
   * False when already spent.
   */
  async spend(state: string, installationId: string, expiresAt: Date, now = new Date()): Promise<boolean> {
    try {
      const keepUntil = new Date(expiresAt.getTime() + SPENT_MARKER_SLACK_MS);
      await this.coll.insertOne({ _id: spentId(hashId(state)), installationId, createdAt: now, expiresAt: keepUntil, usedAt: now });
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === 11000) return false;
      throw err;
    }
  }

  /** Drops states well past their expiry (a used one is kept until then, to name a replay). */
  async sweep(now = new Date()): Promise<number> {
    return (await this.coll.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
  }
}
