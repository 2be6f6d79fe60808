import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Address classification for the outbound allow-list: an IP literal, a loopback
 * name or a non-public address is a server-side request forgery target unless
 * the operator named it on purpose.
 *
 * Public means ipaddr.js' `unicast` range and nothing else: every special-purpose
 * range it knows (private, loopback, link-local, CGNAT, multicast, broadcast,
 * reserved such as 192.0.0.0/24, 198.18.0.0/15 and 240.0.0.0/4, the IPv6
 * site-local fec0::/10, and the IPv6 forms that embed or tunnel to an IPv4
 * address: IPv4-mapped and -compatible, NAT64 64:ff9b::/96, 6to4 2002::/16,
 * Teredo) is refused. The library's list is maintained upstream, unlike a
 * hand-kept one; ranges it does not know are public, so keep it up to date.
 */

/** `[::1]` (URL hostname form) → `::1`; other hostnames unchanged. */
export function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** True for an IPv4 or IPv6 literal, bracketed or not. */
export function isIpLiteral(hostname: string): boolean {
  return isIP(unbracket(hostname)) !== 0;
}

/** `localhost` and `*.localhost` always mean this machine (RFC 6761). */
export function isLoopbackName(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost');
}

/**
 * Ranges ipaddr.js reports as `unicast` that are not: IPv4-compatible addresses
 * (::/96, deprecated) are named only when written dotted (`::127.0.0.1`), not in
 * hex (`::7f00:1`).
 */
const EXTRA_NON_PUBLIC: [ipaddr.IPv6, number][] = [[ipaddr.IPv6.parse('::'), 96]];

/** The ipaddr.js range name of an address (`unicast` for a public one), or undefined when it is not an address. */
export function addressRange(address: string): string | undefined {
  const ip = unbracket(address).split('%')[0] ?? '';
  // Node's parser decides what an address is (ipaddr.js also reads forms such as "0x7f.1").
  if (isIP(ip) === 0) return undefined;
  try {
    const parsed = ipaddr.parse(ip);
    const range = parsed.range();
    if (range === 'unicast' && parsed.kind() === 'ipv6' && EXTRA_NON_PUBLIC.some((r) => (parsed as ipaddr.IPv6).match(r))) {
      return 'ipv4Compatible';
    }
    return range;
  } catch {
    return undefined;
  }
}

/** Any address outside the public unicast space (see the module comment); false for a non-address. */
export function isNonPublicAddress(address: string): boolean {
  const range = addressRange(address);
  return range !== undefined && range !== 'unicast';
}
