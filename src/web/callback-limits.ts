import type { IncomingMessage } from 'node:http';
import { addressRange } from '../talkdesk/ip';
import { requestSource, TRUST_NOTHING, type TrustProxy } from './client-address';
import { SourceRateLimiter, sourceKey, type RateDecision } from './rate-limit';

/** Where a proxy in front of the service lives: a source there is every sender at once (TRUST_PROXY unset). */
const PROXY_RANGES = ['private', 'loopback', 'linkLocal', 'uniqueLocal', 'carrierGradeNat'];

/**
 * The key a source's share of the bodies being read is kept under (an IPv6 source by its /64, as the budgets
 * key it); undefined, no share but the whole bound, for an unknown source or one in a range a proxy lives in.
 */
export function bodyShareKey(source: string | undefined): string | undefined {
  if (!source) return undefined;
  const key = sourceKey(source); // an IPv4-mapped IPv6 address as its IPv4 address, IPv6 by its /64
  const own = addressRange(source);
  const range = own === 'ipv4Mapped' ? addressRange(key) : own;
  return PROXY_RANGES.includes(range ?? '') ? undefined : key;
}

/**
 * The callback's two per-source budgets. Requests that pass authentication take a
 * token of CALLBACK_RATE_LIMIT_PER_MINUTE; requests refused before they are
 * authenticated (bad or missing signature, wrong type, unreadable body) take one of
 * CALLBACK_FAILED_AUTH_PER_MINUTE instead. A flood of unsigned requests therefore
 * empties only its own bucket and never touches a signed delivery, even when both
 * share one source (a proxy that is not trusted, a shared NAT). The source is the
 * client address through trusted proxies (TRUST_PROXY).
 */
export interface CallbackLimitOptions {
  /** Signed requests a minute per source; 0 or unset: no limit. */
  signedPerMinute?: number;
  /** Requests refused before authentication a minute per source; 0 or unset: no limit. */
  failedAuthPerMinute?: number;
  /** Bucket size of both; one minute's worth by default. */
  burst?: number;
  trustProxy?: TrustProxy;
  now?: () => number;
}

export class CallbackLimiter {
  private readonly signed?: SourceRateLimiter;
  private readonly failed?: SourceRateLimiter;
  private readonly trust: TrustProxy;

  constructor(o: CallbackLimitOptions) {
    const make = (perMinute: number | undefined) =>
      perMinute ? new SourceRateLimiter({ perMinute, burst: o.burst, now: o.now }) : undefined;
    this.signed = make(o.signedPerMinute);
    this.failed = make(o.failedAuthPerMinute);
    this.trust = o.trustProxy ?? TRUST_NOTHING;
  }

  /** True when neither budget limits anything. */
  get off(): boolean {
    return !this.signed && !this.failed;
  }

  /** The request's source address (its client through trusted proxies). */
  source(req: IncomingMessage): string | undefined {
    return requestSource(req, this.trust);
  }

  /** A request that passed authentication (past the budget, an event is stored and its hand-over left to the dispatcher). */
  authenticated(source: string | undefined): RateDecision {
    return this.signed?.take(source) ?? { allowed: true };
  }

  /** A request refused before it was authenticated. */
  unauthenticated(source: string | undefined): RateDecision {
    return this.failed?.take(source) ?? { allowed: true };
  }
}
