import { BlockList, isIP } from 'node:net';

/**
 * Address classification for the outbound allow-list: an IP literal, a loopback
 * name or a non-public address is a server-side request forgery target unless
 * the operator named it on purpose.
 */

const nonPublic = new BlockList();
nonPublic.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network", includes 0.0.0.0
nonPublic.addSubnet('10.0.0.0', 8, 'ipv4');
nonPublic.addSubnet('100.64.0.0', 10, 'ipv4'); // carrier-grade NAT
nonPublic.addSubnet('127.0.0.0', 8, 'ipv4');
nonPublic.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, cloud metadata
nonPublic.addSubnet('172.16.0.0', 12, 'ipv4');
nonPublic.addSubnet('192.168.0.0', 16, 'ipv4');
nonPublic.addAddress('::', 'ipv6');
nonPublic.addAddress('::1', 'ipv6');
nonPublic.addSubnet('fc00::', 7, 'ipv6'); // unique local
nonPublic.addSubnet('fe80::', 10, 'ipv6'); // link-local

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

/** Loopback, private, link-local, CGNAT or unspecified address (IPv4-mapped IPv6 included). */
export function isNonPublicAddress(address: string): boolean {
  const ip = unbracket(address);
  const family = isIP(ip);
  if (family === 0) return false;
  return nonPublic.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}
