import { TalkdeskHttpError } from '../../talkdesk/errors';
import type { TalkdeskUser } from '../../talkdesk/schemas';

/** One read of an installation's licensed users, and when it was asked. */
export interface LicensedUsersRead {
  users: TalkdeskUser[];
  askedAt: Date;
  /** Begun by another sign-in. */
  shared: boolean;
}

/** How long an answered read answers the sign-ins that miss after it: a licence granted since waits this long after it. */
export const LICENSED_READ_REUSE_MS = 15_000;
/** The longest Talkdesk's Retry-After holds sign-ins' reads back: a larger one (or a clock-skewed date) is not trusted. */
export const LICENSED_READ_MAX_PAUSE_MS = 10 * 60_000;

/** How long a failed read's error answers the reads after it: Talkdesk's Retry-After of a 429, else none. */
function pauseOf(err: unknown): err is TalkdeskHttpError & { retryAfterMs: number } {
  return err instanceof TalkdeskHttpError && err.kind === 'rate_limited' && err.retryAfterMs !== undefined && err.retryAfterMs > 0;
}

/**
 * The licensed-users reads sign-ins make on a miss, shared per installation and client: one at a
 * time, its answer reused for LICENSED_READ_REUSE_MS. Each read costs a token and every page of the
 * account's users against Talkdesk's limits, which the workflow's lifecycle calls share; a shift of
 * unlicensed agents opening the app at once, or one clicking again and again, made one read each.
 * A failed read is not kept, but for Talkdesk's 429: its error answers every read (fresh ones too)
 * until its Retry-After has passed, as each would only be refused again and spend the limit the
 * workflow needs. In memory: per process, as the failed sign-in budget.
 */
export class LicensedUsersReads {
  private readonly reads = new Map<string, { at: number; settledAt?: number; read: Promise<LicensedUsersRead> }>();
  private readonly paused = new Map<string, { until: number; err: TalkdeskHttpError }>();

  constructor(private readonly reuseMs = LICENSED_READ_REUSE_MS) {}

  /**
   * `fresh`: a read begun now, never an earlier one's (whose list may predate a removal mark);
   * `notBefore`: an earlier one's only if it began since then.
   */
  async read(key: string, fetch: () => Promise<TalkdeskUser[]>, o: { fresh?: boolean; notBefore?: Date } = {}): Promise<LicensedUsersRead> {
    const now = Date.now();
    // Reused for `reuseMs` once answered; one still under way is shared however long it takes (a large account's
    // listing takes minutes: each sign-in after the first 15 s started another whole read beside it).
    for (const [k, r] of this.reads) if (r.settledAt !== undefined && now - r.settledAt >= this.reuseMs) this.reads.delete(k);
    for (const [k, p] of this.paused) if (p.until <= now) this.paused.delete(k);
    const pause = this.paused.get(key);
    // Talkdesk's answer again, with what is left of its pause (the page tells the person how long to wait).
    if (pause) {
      const { status, endpoint, code } = pause.err;
      throw new TalkdeskHttpError({ status, endpoint, ...(code === undefined ? {} : { code }), retryAfterMs: pause.until - now });
    }
    const kept = o.fresh ? undefined : this.reads.get(key);
    if (kept && kept.at >= (o.notBefore?.getTime() ?? 0)) return { ...(await kept.read), shared: true };
    const askedAt = new Date(now);
    const read = fetch().then((users) => ({ users, askedAt, shared: false }));
    const entry: { at: number; settledAt?: number; read: Promise<LicensedUsersRead> } = { at: now, read };
    this.reads.set(key, entry);
    read.then(
      () => (entry.settledAt = Date.now()),
      (err: unknown) => {
        if (this.reads.get(key) === entry) this.reads.delete(key);
        if (pauseOf(err)) this.paused.set(key, { until: Date.now() + Math.min(err.retryAfterMs, LICENSED_READ_MAX_PAUSE_MS), err });
      },
    );
    return read;
  }
}
