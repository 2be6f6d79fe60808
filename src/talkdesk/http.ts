import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { z } from 'zod';
import { ConfigError } from '../errors';
import { matchAllowedUrl, parseAllowList, type AllowedUrl, type AllowListEntry } from './allowlist';
import { needsDnsGuard, publicOnlyLookup, type Resolver } from './dns-guard';
import { TalkdeskRequestError } from './errors';
import { errorFromResponse, errorFromTransport, parseBody, type RawResponse } from './responses';

export interface TalkdeskClientOptions {
  /** Outbound allow-list entries (see allowlist.ts), e.g. TALKDESK_ALLOWED_HOSTS. */
  allowedHosts: string[];
  /** Whole-request deadline in ms (connect + response). */
  timeoutMs: number;
  userAgent?: string;
  /** Loop guard for paged listings. Default 1,000: a sign-in's licence read lists every licensed user (10,000 at 20 a page is 500). */
  maxPages?: number;
  /** Clock in epoch ms (assertion iat/exp, token expiresAt). Default Date.now. */
  now?: () => number;
  /** DNS resolver of the public-address guard (every host name but loopback names); tests replace it. */
  resolver?: Resolver;
}

const DEFAULT_USER_AGENT = 'appconnect-lifecycle';
const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;
const MAX_REQUEST_BYTES = 64 * 1024;
const PRINTABLE_TOKEN = /^[\x21-\x7e]+$/;

type Method = 'GET' | 'POST';

export interface Call {
  method: Method;
  target: AllowedUrl;
  /** Bearer token, or none (token endpoint). */
  token?: string;
  /** HTTP Basic client authentication (`client_secret_basic`), already encoded. */
  basic?: string;
  /** Already-encoded body and its content type. */
  body?: { contentType: string; text: string };
  /** Values we sent that an echoing server must not get into an error. */
  secrets: string[];
}

/** One path segment, encoded; ids that would change the path's meaning are refused. */
export function segment(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new TalkdeskRequestError(`${what} must be a non-empty string of at most 256 characters`);
  }
  // WHATWG URL resolves ".", "..", "%2e" and friends as dot segments: never let an id move the path.
  if (/^(\.|%2e){1,2}$/i.test(value)) throw new TalkdeskRequestError(`${what} cannot be a dot segment`);
  return encodeURIComponent(value);
}

/** `METHOD /path` for errors and logs: never the query string. */
export function endpointOf(method: string, url: URL): string {
  return `${method} ${url.pathname}`;
}

/**
 * The transport under the Talkdesk client: every URL goes through the allow-list;
 * redirects are never followed; every body is zod-parsed; every failure is one of
 * the safe errors in errors.ts.
 */
export class TalkdeskHttp {
  private readonly http: AxiosInstance;
  private readonly allowList: AllowListEntry[];
  private readonly timeoutMs: number;
  readonly maxPages: number;
  readonly now: () => number;
  private readonly lookup: ReturnType<typeof publicOnlyLookup>;

  constructor(options: TalkdeskClientOptions) {
    this.allowList = parseAllowList(options.allowedHosts);
    if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new ConfigError('TalkdeskClient timeoutMs must be a positive integer (TALKDESK_HTTP_TIMEOUT_MS)');
    }
    this.timeoutMs = options.timeoutMs;
    this.maxPages = options.maxPages ?? 1_000;
    this.now = options.now ?? Date.now;
    this.lookup = publicOnlyLookup(options.resolver);
    this.http = axios.create({
      adapter: 'http',
      maxRedirects: 0, // a redirect is answered as an error, never followed (it could leave the allow-list)
      timeout: this.timeoutMs,
      validateStatus: () => true, // statuses are mapped here, not thrown by axios with the config attached
      proxy: false, // ignore HTTP(S)_PROXY: egress goes straight to allow-listed hosts
      responseType: 'text',
      transformRequest: [(data: unknown) => data],
      transformResponse: [(data: unknown) => data],
      maxContentLength: MAX_RESPONSE_BYTES,
      maxBodyLength: MAX_REQUEST_BYTES,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: false, forcedJSONParsing: false },
      headers: { 'User-Agent': options.userAgent ?? DEFAULT_USER_AGENT, Accept: 'application/json' },
    });
  }

  /** The URL, allow-listed; DisallowedHostError otherwise. */
  allowed(url: string | URL): AllowedUrl {
    return matchAllowedUrl(url, this.allowList);
  }

  /** root (the event's `_links.root`, path prefix kept) + encoded segments, allow-listed. */
  at(root: string, segments: string[]): AllowedUrl {
    const base = matchAllowedUrl(root, this.allowList).url;
    const url = new URL(base.href);
    url.pathname = `${base.pathname.replace(/\/+$/, '')}/${segments.join('/')}`;
    url.search = '';
    url.hash = '';
    return matchAllowedUrl(url, this.allowList);
  }

  async json<S extends z.ZodType>(call: Call, schema: S): Promise<z.output<S>> {
    const res = await this.exchange(call);
    return parseBody(schema, res, endpointOf(call.method, call.target.url));
  }

  /** Sends one request; returns a 2xx answer or throws a safe error. */
  async exchange(call: Call): Promise<RawResponse> {
    const { method, target } = call;
    const endpoint = endpointOf(method, target.url);
    const headers: Record<string, string> = {};
    if (call.token !== undefined) {
      if (typeof call.token !== 'string' || !PRINTABLE_TOKEN.test(call.token)) {
        throw new TalkdeskRequestError('the access token is empty or not printable ASCII');
      }
      headers['Authorization'] = `Bearer ${call.token}`;
    }
    if (call.basic !== undefined) headers['Authorization'] = `Basic ${call.basic}`;
    if (call.body) headers['Content-Type'] = call.body.contentType;

    // axios' own timeout is per socket phase; this signal bounds the whole exchange.
    const deadline = AbortSignal.timeout(this.timeoutMs);
    let res: AxiosResponse<unknown>;
    try {
      res = await this.http.request({
        method,
        url: target.url.href,
        headers,
        data: call.body?.text,
        signal: deadline,
        // Every name is resolved through the guard: an exactly listed name can point at a
        // private address as easily as a wildcard one. Only IP literals (no DNS) and
        // loopback names (listed exactly for the local simulator and tests) are not.
        ...(needsDnsGuard(target.url.hostname) ? { lookup: this.lookup } : {}),
      });
    } catch (err) {
      // The axios error holds the request config (bearer token, assertion): read its code, drop it.
      throw errorFromTransport(err, endpoint, target.url.host, deadline.aborted);
    }

    const raw: RawResponse = {
      status: res.status,
      headers: { 'retry-after': res.headers['retry-after'], location: res.headers['location'] },
      body: typeof res.data === 'string' ? res.data : '',
    };
    if (raw.status >= 200 && raw.status < 300) return raw;
    throw errorFromResponse(raw, endpoint, target.url, call.secrets);
  }
}
