import type { TalkdeskUser } from '../../talkdesk/schemas';

/** One read of an installation's licensed users, and when it was asked. */
export interface LicensedUsersRead {
  users: TalkdeskUser[];
  askedAt: Date;
}

/** How long a read answers the sign-ins that miss after it: a licence granted since waits this long at most. */
export const LICENSED_READ_REUSE_MS = 15_000;

/**
 * The licensed-users reads sign-ins make on a miss, shared per installation and client: one at a
 * time, its answer reused for LICENSED_READ_REUSE_MS. Each read costs a token and every page of the
 * account's users against Talkdesk's limits, which the workflow's lifecycle calls share; a shift of
 * unlicensed agents opening the app at once, or one clicking again and again, made one read each.
 * A failed read is not kept. In memory: per process, as the failed sign-in budget.
 */
export class LicensedUsersReads {
  private readonly reads = new Map<string, { at: number; read: Promise<LicensedUsersRead> }>();

  constructor(private readonly reuseMs = LICENSED_READ_REUSE_MS) {}

  /** `fresh`: a read begun now, never an earlier one's (whose list may predate a removal mark). */
  read(key: string, fetch: () => Promise<TalkdeskUser[]>, o: { fresh?: boolean } = {}): Promise<LicensedUsersRead> {
    const now = Date.now();
    for (const [k, r] of this.reads) if (now - r.at >= this.reuseMs) this.reads.delete(k);
    const kept = o.fresh ? undefined : this.reads.get(key);
    if (kept) return kept.read;
    const askedAt = new Date(now);
    const read = fetch().then((users) => ({ users, askedAt }));
    this.reads.set(key, { at: now, read });
    read.catch(() => {
      if (this.reads.get(key)?.read === read) this.reads.delete(key);
    });
    return read;
  }
}
