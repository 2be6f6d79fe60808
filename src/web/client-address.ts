import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../errors';

/**
 * The client address of a request behind proxies (TRUST_PROXY). `X-Forwarded-For`
 * is a list each proxy appends its peer to, so only the entries appended by proxies
 * we trust are facts; anything left of them was written by the client and can be
 * anything. The address is found walking from the TCP peer leftwards through
 * trusted hops only:
 *  - nothing trusted (unset): the TCP peer, the header is ignored;
 *  - a hop count `n`: the n proxies nearest to us are trusted, so the client is the
 *    n-th entry from the right (the leftmost one if the list is shorter);
 *  - CIDRs: every hop whose address is in one of them is trusted; the client is the
 *    first address from the right that is not.
 * An entry that is not an IP address stops the walk at the hop that wrote it.
 */
export type TrustProxy =
  | { kind: 'none' }
  | { kind: 'hops'; hops: number }
  | { kind: 'cidrs'; ranges: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][]; text: string };

export const TRUST_NOTHING: TrustProxy = { kind: 'none' };

const MAX_HOPS = 32;

/** Parses TRUST_PROXY: unset or empty, a hop count, or comma-separated CIDRs or addresses. */
export function parseTrustProxy(spec: string | undefined): TrustProxy {
  const text = (spec ?? '').trim();
  if (text === '') return TRUST_NOTHING;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > MAX_HOPS) throw new ConfigError(`a hop count must be 0 to ${MAX_HOPS}`);
    return hops === 0 ? TRUST_NOTHING : { kind: 'hops', hops };
  }
  const ranges = text.split(',').map((raw, i) => {
    const entry = raw.trim();
    const bad = (why: string) =>
      new ConfigError(
        `entry ${i + 1} ${JSON.stringify(entry.slice(0, 60))} ${why}; give a hop count such as 1, or comma-separated CIDRs such as 10.0.0.0/8`,
      );
    try {
      if (entry.includes('/')) return ipaddr.parseCIDR(entry);
      if (isIP(entry) === 0) throw bad('is not an IP address or CIDR');
      const addr = ipaddr.parse(entry);
      return [addr, addr.kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number];
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw bad('is not a valid CIDR');
    }
  });
  return { kind: 'cidrs', ranges, text };
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as Node reports IPv4 peers on a dual-stack socket) as IPv4. */
function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = text.trim().replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare) === 0) return undefined;
  const addr = ipaddr.parse(bare);
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

function trusted(addr: ipaddr.IPv4 | ipaddr.IPv6, ranges: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][]): boolean {
  return ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range as never, bits));
}

/** The source of a request (its client through trusted proxies): what the per-source budgets count by. */
export function requestSource(req: IncomingMessage, trust: TrustProxy): string | undefined {
  return clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trust);
}

/** The client address of a request, by `trust` (see the module comment). */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trust: TrustProxy,
): string | undefined {
  if (trust.kind === 'none' || peer === undefined) return peer;
  const header = typeof forwardedFor === 'string' ? forwardedFor : (forwardedFor ?? []).join(',');
  const hops = header === '' ? [] : header.split(',').map((s) => s.trim());
  // Nearest first: the TCP peer, then the header from right to left.
  const chain = [peer, ...hops.reverse()];
  let current = peer;
  for (let i = 0; i < chain.length; i += 1) {
    const text = chain[i] ?? '';
    const addr = parseAddress(text);
    if (!addr) return current; // garbage written by the previous hop: that hop is the source
    current = addr.toString();
    const isTrusted = trust.kind === 'hops' ? i < trust.hops : trusted(addr, trust.ranges);
    if (!isTrusted) return current;
  }
  return current; // every hop trusted: the leftmost is as far as we can see
}
