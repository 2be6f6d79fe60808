import { isIPv4, isIPv6 } from 'node:net';

/**
 * Per-source rate limit of the callback: one token bucket per remote address,
 * refilled at `perMinute` tokens a minute and holding at most `burst` (one
 * minute's worth by default). A source that empties its bucket is told the seconds
 * until its next token (the caller decides: 429, or a hand-over left for later); other sources keep their own buckets,
 * so one noisy client does not slow anyone else.
 *
 * Memory is bounded: buckets that have refilled completely carry no information
 * and are swept, and past `maxSources` the least recently seen sources are dropped.
 */
export interface RateLimitOptions {
  perMinute: number;
  burst?: number;
  maxSources?: number;
  now?: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * The key of a source: an IPv4 address as it is (IPv4-mapped IPv6 included), an
 * IPv6 address by its /64, which one host usually owns whole.
 */
export function sourceKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  const bare = address.split('%')[0] ?? address;
  const [head = '', tail = ''] = bare.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === '' ? [] : tail.split(':');
  const groups = bare.includes('::')
    ? [...headParts, ...Array<string>(Math.max(0, 8 - headParts.length - tailParts.length)).fill('0'), ...tailParts]
    : headParts;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly perMs: number;
  private readonly maxSources: number;
  private readonly now: () => number;

  constructor(options: RateLimitOptions) {
    if (!Number.isFinite(options.perMinute) || options.perMinute <= 0) throw new Error('perMinute must be positive');
    this.perMs = options.perMinute / 60_000;
    this.capacity = Math.max(1, options.burst ?? options.perMinute);
    this.maxSources = options.maxSources ?? 50_000;
    this.now = options.now ?? Date.now;
  }

  /** Takes one token for `address`'s source. */
  take(address: string | undefined): RateDecision {
    const key = sourceKey(address);
    const now = this.now();
    const bucket = this.buckets.get(key);
    let tokens = this.capacity;
    if (bucket) {
      tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.at) * this.perMs);
      this.buckets.delete(key); // re-inserted below: the Map's order is least recently seen first
    } else if (this.buckets.size >= this.maxSources) {
      this.evict(now);
    }
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now });
      return { allowed: false, retryAfterSeconds: this.secondsUntilToken(tokens) };
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    return { allowed: true };
  }

  /** Whether `address`'s source has a token now, and if not when its next one comes, without taking it. */
  peek(address: string | undefined): RateDecision {
    const bucket = this.buckets.get(sourceKey(address));
    if (!bucket) return { allowed: true };
    const tokens = Math.min(this.capacity, bucket.tokens + (this.now() - bucket.at) * this.perMs);
    return tokens >= 1 ? { allowed: true } : { allowed: false, retryAfterSeconds: this.secondsUntilToken(tokens) };
  }

  private secondsUntilToken(tokens: number): number {
    return Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000));
  }

  /** Sources currently tracked (tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private evict(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.capacity) this.buckets.delete(key);
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < this.maxSources) break;
      this.buckets.delete(key);
    }
  }
}
