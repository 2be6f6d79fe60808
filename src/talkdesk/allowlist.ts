import { ConfigError } from '../errors';
import { DisallowedHostError } from './errors';
import { isIpLiteral, isLoopbackName, isNonPublicAddress } from './ip';

/**
 * Outbound allow-list. URLs come from Talkdesk events (`_links.root`,
 * `_links.tokens`, paging links), so a forged or tampered link must not turn
 * the worker into a proxy to internal services.
 *
 * Entries:
 *  - `api.talkdeskapp.com`  exact host, default port of the scheme only
 *  - `127.0.0.1:4010`       exact host and port
 *  - `*.talkdeskid.com`     any host with one or more labels before the suffix,
 *                           never an IP literal or a loopback name, https only
 *
 * http is accepted only for an exactly named IP literal or loopback name (local
 * tests and simulators). IP literals, `localhost` and private ranges only ever
 * match an entry that names them exactly.
 */
export interface AllowListEntry {
  /** The entry as configured, for messages. */
  raw: string;
  wildcard: boolean;
  /** Canonical WHATWG hostname; for a wildcard the suffix after `*.`. */
  hostname: string;
  /** Explicit port, or null: only the scheme's default port. */
  port: number | null;
}

export interface AllowedUrl {
  url: URL;
  entry: AllowListEntry;
}

const FORBIDDEN_IN_ENTRY = /[/?#@\\\s]/;

function parseEntry(raw: string): AllowListEntry {
  const text = raw.trim().toLowerCase();
  const bad = (why: string) =>
    new ConfigError(`Allow-list entry "${raw}" is invalid: ${why}. Use "host", "host:port" or "*.domain" (TALKDESK_ALLOWED_HOSTS)`);
  if (!text) throw bad('empty');
  if (FORBIDDEN_IN_ENTRY.test(text) || text.includes('://')) throw bad('give a host, not a URL');

  const wildcard = text.startsWith('*.');
  const rest = wildcard ? text.slice(2) : text;
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(rest);
  if (!m || m[1] === undefined) throw bad('cannot read host and port');
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) throw bad('port out of range');

  let hostname: string;
  try {
    // WHATWG canonical form, the same the request URL will be compared in (127.1 → 127.0.0.1, IDN → punycode).
    hostname = new URL(`http://${m[1]}`).hostname;
  } catch {
    throw bad('not a valid host name');
  }
  if (wildcard) {
    if (isIpLiteral(hostname)) throw bad('a wildcard cannot cover IP addresses');
    if (!hostname.includes('.') || hostname.split('.').some((l) => l === '')) throw bad('a wildcard needs a domain of two or more labels');
  }
  return { raw, wildcard, hostname, port };
}

/** Parses and checks every entry; throws ConfigError naming the first bad one. */
export function parseAllowList(entries: readonly string[]): AllowListEntry[] {
  return entries.map(parseEntry);
}

function portMatches(entry: AllowListEntry, url: URL): boolean {
  if (entry.port === null) return url.port === '';
  const effective = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return effective === entry.port;
}

function wildcardMatches(suffix: string, hostname: string): boolean {
  if (!hostname.endsWith(`.${suffix}`)) return false;
  const labels = hostname.slice(0, -(suffix.length + 1)).split('.');
  return labels.every((l) => l.length > 0);
}

/** Like assertAllowedUrl, also returning the entry that matched (the client needs it for the DNS check). */
export function matchAllowedUrl(input: string | URL, allowList: readonly AllowListEntry[]): AllowedUrl {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new DisallowedHostError({ reason: 'not a valid absolute URL' });
  }
  const host = url.host;
  if (url.username !== '' || url.password !== '') {
    throw new DisallowedHostError({ host, reason: 'the URL carries user info (user:password@), which is never sent' });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new DisallowedHostError({ host, reason: `scheme ${url.protocol} is not http(s)` });
  }

  const hostname = url.hostname;
  const special = isIpLiteral(hostname) || isLoopbackName(hostname);
  const exact = allowList.find((e) => !e.wildcard && e.hostname === hostname && portMatches(e, url));
  const entry =
    exact ?? (special ? undefined : allowList.find((e) => e.wildcard && wildcardMatches(e.hostname, hostname) && portMatches(e, url)));
  if (!entry) {
    const what =
      isNonPublicAddress(hostname) || isLoopbackName(hostname)
        ? 'a loopback/private address'
        : isIpLiteral(hostname)
          ? 'an IP address'
          : 'a host';
    throw new DisallowedHostError({ host, reason: `${what} not on the allow-list` });
  }
  if (url.protocol === 'http:' && !(exact && special)) {
    throw new DisallowedHostError({ host, reason: 'plain http is only allowed for an exactly listed IP or loopback host; use https' });
  }
  return { url, entry };
}

/** The parsed URL when `url` may be called, else DisallowedHostError. */
export function assertAllowedUrl(url: string | URL, allowedHosts: readonly string[] | readonly AllowListEntry[]): URL {
  const list = allowedHosts.map((e) => (typeof e === 'string' ? parseEntry(e) : e));
  return matchAllowedUrl(url, list).url;
}
