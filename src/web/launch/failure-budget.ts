import type { Context } from 'koa';
import { requestSource, TRUST_NOTHING, type TrustProxy } from '../client-address';
import { SourceRateLimiter, type RateDecision } from '../rate-limit';

/**
 * Failed sign-ins a minute per source (SSO_FAILED_SIGN_INS_PER_MINUTE), as the callback's
 * failed-auth budget: each failure its sender caused, answered by /launch or /sso/callback,
 * takes a token (failure.ts), a successful sign-in or a failure of ours none. A source without a
 * token is answered 429 before anything is read or written, so a flood of bad sign-ins costs no
 * store write and no log line per request.
 * The source is the client address through trusted proxies (TRUST_PROXY).
 */
export class FailedSignInBudget {
  private readonly limiter: SourceRateLimiter;
  private readonly trust: TrustProxy;

  constructor(o: { perMinute: number; trustProxy?: TrustProxy; now?: () => number }) {
    this.limiter = new SourceRateLimiter({ perMinute: o.perMinute, now: o.now });
    this.trust = o.trustProxy ?? TRUST_NOTHING;
  }

  private source(ctx: Context): string | undefined {
    return requestSource(ctx.req, this.trust);
  }

  /** Before a sign-in request is handled: refused when its source has no token left (nothing taken). */
  check(ctx: Context): RateDecision {
    return this.limiter.peek(this.source(ctx));
  }

  /** A failed sign-in: takes a token; refused when the source spent its last one meanwhile (parallel requests). */
  failed(ctx: Context): RateDecision {
    return this.limiter.take(this.source(ctx));
  }
}
