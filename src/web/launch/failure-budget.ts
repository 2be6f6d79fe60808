import type { Context } from 'koa';
import { requestSource, TRUST_NOTHING, type TrustProxy } from '../client-address';
import { SourceRateLimiter, type RateDecision } from '../rate-limit';

/** How many more of Talkdesk's own OAuth errors a source may send a minute than failures of its own. */
export const TALKDESK_ERRORS_FACTOR = 10;

/**
 * Failed sign-ins a minute per source (SSO_FAILED_SIGN_INS_PER_MINUTE), as the callback's
 * failed-auth budget: each failure its sender caused, answered by /launch or /sso/callback,
 * takes a token (failure.ts), a successful sign-in or a failure of ours none. A source without a
 * token is answered 429 before anything is read or written, so a flood of bad sign-ins costs no
 * store write and no log line per request.
 * The source is the client address through trusted proxies (TRUST_PROXY).
 *
 * A callback carrying Talkdesk's own OAuth error (`server_error`, `temporarily_unavailable`) takes a token of a second
 * budget, TALKDESK_ERRORS_FACTOR times larger: an outage at Talkdesk must not lock out an office behind one address,
 * yet the sender chooses that parameter, so a forged one must not loop without bound either.
 */
export class FailedSignInBudget {
  private readonly limiter: SourceRateLimiter;
  private readonly talkdeskErrors: SourceRateLimiter;
  private readonly trust: TrustProxy;

  constructor(o: { perMinute: number; trustProxy?: TrustProxy; now?: () => number }) {
    this.limiter = new SourceRateLimiter({ perMinute: o.perMinute, now: o.now });
    this.talkdeskErrors = new SourceRateLimiter({ perMinute: o.perMinute * TALKDESK_ERRORS_FACTOR, now: o.now });
    this.trust = o.trustProxy ?? TRUST_NOTHING;
  }

  private source(ctx: Context): string | undefined {
    return requestSource(ctx.req, this.trust);
  }

  /** Before a sign-in request is handled: refused when its source has no token left of either budget (nothing taken). */
  check(ctx: Context): RateDecision {
    const source = this.source(ctx);
    const own = this.limiter.peek(source);
    return own.allowed ? this.talkdeskErrors.peek(source) : own;
  }

  /**
   * A failed sign-in: takes a token (of the Talkdesk errors' budget for `talkdesk`); refused when the source spent its
   * last one meanwhile (parallel requests).
   */
  failed(ctx: Context, kind: 'sender' | 'talkdesk' = 'sender'): RateDecision {
    return (kind === 'talkdesk' ? this.talkdeskErrors : this.limiter).take(this.source(ctx));
  }
}
