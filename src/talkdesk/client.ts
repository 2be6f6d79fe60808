import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { z } from 'zod';
import { ConfigError } from '../errors';
import { matchAllowedUrl, parseAllowList, type AllowedUrl, type AllowListEntry } from './allowlist';
import { createClientAssertion, type TalkdeskKeyAlgorithm } from './assertion';
import { needsDnsGuard, publicOnlyLookup, type Resolver } from './dns-guard';
import { DisallowedHostError, TalkdeskProtocolError, TalkdeskRequestError } from './errors';
import { errorFromResponse, errorFromTransport, parseBody, type RawResponse } from './responses';
import {
  accountSchema,
  installationSchema,
  installationStateSchema,
  tokenResponseSchema,
  userInfoSchema,
  userSchema,
  usersPageSchema,
  type InstallationStateChange,
  type TalkdeskAccount,
  type TalkdeskInstallation,
  type TalkdeskInstallationState,
  type TalkdeskToken,
  type TalkdeskUser,
  type TalkdeskUserInfo,
  type TalkdeskUsersPage,
} from './schemas';

export interface TalkdeskClientOptions {
  /** Outbound allow-list entries (see allowlist.ts), e.g. TALKDESK_ALLOWED_HOSTS. */
  allowedHosts: string[];
  /** Whole-request deadline in ms (connect + response). */
  timeoutMs: number;
  userAgent?: string;
  /** Loop guard for paged listings. Default 200. */
  maxPages?: number;
  /** Clock in epoch ms (assertion iat/exp, token expiresAt). Default Date.now. */
  now?: () => number;
  /** DNS resolver of the public-address guard (every host name but loopback names); tests replace it. */
  resolver?: Resolver;
}

export interface TokenRequest {
  /** The event's `_links.tokens.href`; also the assertion's `aud`. */
  tokenUrl: string;
  clientId: string;
  keyId: string;
  algorithm: TalkdeskKeyAlgorithm;
  /** As Talkdesk sent it: base64 PKCS#8 (DER or PEM), or PEM. */
  privateKey: string;
  /** Without it the token gets every scope the client was granted. */
  scopes?: string[];
}

export interface CodeExchangeRequest {
  /** The installation's `_links.tokens.href`. */
  tokenUrl: string;
  clientId: string;
  code: string;
  /** Exactly the redirect_uri of the authorization request. */
  redirectUri: string;
  auth:
    | { method: 'private_key_jwt'; keyId: string; algorithm: TalkdeskKeyAlgorithm; privateKey: string }
    | { method: 'client_secret_basic'; clientSecret: string };
}

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const DEFAULT_USER_AGENT = 'appconnect-lifecycle';
const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;
const MAX_REQUEST_BYTES = 64 * 1024;
const PRINTABLE_TOKEN = /^[\x21-\x7e]+$/;

type Method = 'GET' | 'POST';

interface Call {
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
function segment(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new TalkdeskRequestError(`${what} must be a non-empty string of at most 256 characters`);
  }
  // WHATWG URL resolves ".", "..", "%2e" and friends as dot segments: never let an id move the path.
  if (/^(\.|%2e){1,2}$/i.test(value)) throw new TalkdeskRequestError(`${what} cannot be a dot segment`);
  return encodeURIComponent(value);
}

/**
 * Client for the Talkdesk endpoints the lifecycle needs. Every URL goes through
 * the allow-list; redirects are never followed; every body is zod-parsed; every
 * failure is one of the safe errors in errors.ts (see failures.ts for Temporal).
 */
export class TalkdeskClient {
  private readonly http: AxiosInstance;
  private readonly allowList: AllowListEntry[];
  private readonly timeoutMs: number;
  private readonly maxPages: number;
  private readonly now: () => number;
  private readonly lookup: ReturnType<typeof publicOnlyLookup>;

  constructor(options: TalkdeskClientOptions) {
    this.allowList = parseAllowList(options.allowedHosts);
    if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new ConfigError('TalkdeskClient timeoutMs must be a positive integer (TALKDESK_HTTP_TIMEOUT_MS)');
    }
    this.timeoutMs = options.timeoutMs;
    this.maxPages = options.maxPages ?? 200;
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

  /** OAuth client credentials with a signed JWT assertion: POST form to the event's tokens URL. */
  async requestToken(req: TokenRequest): Promise<TalkdeskToken> {
    const target = matchAllowedUrl(req.tokenUrl, this.allowList);
    const startedAt = this.now();
    const assertion = await createClientAssertion({
      clientId: req.clientId,
      keyId: req.keyId,
      algorithm: req.algorithm,
      privateKey: req.privateKey,
      tokenUrl: req.tokenUrl,
      now: startedAt,
    });
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: assertion,
    });
    if (req.scopes && req.scopes.length > 0) form.set('scope', req.scopes.join(' '));

    const body = await this.json(
      { method: 'POST', target, body: { contentType: 'application/x-www-form-urlencoded', text: form.toString() }, secrets: [assertion] },
      tokenResponseSchema,
    );
    const scope = body.scope ?? '';
    return {
      accessToken: body.access_token,
      tokenType: 'Bearer',
      expiresIn: body.expires_in,
      scope,
      scopes: scope.split(' ').filter((s) => s.length > 0),
      expiresAt: startedAt + body.expires_in * 1000,
    };
  }

  /**
   * Sign-in: the authorization_code grant at the installation's tokens link, the client
   * authenticated by a signed JWT assertion (as for client credentials) or HTTP Basic.
   */
  async exchangeAuthorizationCode(req: CodeExchangeRequest): Promise<TalkdeskToken> {
    const target = matchAllowedUrl(req.tokenUrl, this.allowList);
    const startedAt = this.now();
    const form = new URLSearchParams({ grant_type: 'authorization_code', code: req.code, redirect_uri: req.redirectUri });
    const secrets = [req.code];
    let basic: string | undefined;
    if (req.auth.method === 'private_key_jwt') {
      const assertion = await createClientAssertion({ ...req.auth, clientId: req.clientId, tokenUrl: req.tokenUrl, now: startedAt });
      form.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
      form.set('client_assertion', assertion);
      secrets.push(assertion);
    } else {
      // RFC 6749 2.3.1: both parts form-encoded before base64.
      basic = Buffer.from(`${encodeURIComponent(req.clientId)}:${encodeURIComponent(req.auth.clientSecret)}`).toString('base64');
      secrets.push(req.auth.clientSecret, basic);
    }
    const body = await this.json(
      { method: 'POST', target, basic, body: { contentType: 'application/x-www-form-urlencoded', text: form.toString() }, secrets },
      tokenResponseSchema,
    );
    const scope = body.scope ?? '';
    return {
      accessToken: body.access_token,
      tokenType: 'Bearer',
      expiresIn: body.expires_in,
      scope,
      scopes: scope.split(' ').filter((s) => s.length > 0),
      expiresAt: startedAt + body.expires_in * 1000,
    };
  }

  /** The signed-in user: GET the installation's userinfo link (`/users/me`) with the user's token. */
  async getUserInfo(userinfoUrl: string, token: string): Promise<TalkdeskUserInfo> {
    return this.json({ method: 'GET', target: matchAllowedUrl(userinfoUrl, this.allowList), token, secrets: [token] }, userInfoSchema);
  }

  /** The URL when its host is allow-listed (a link the browser is sent to); DisallowedHostError otherwise. */
  allowedUrl(url: string): URL {
    return matchAllowedUrl(url, this.allowList).url;
  }

  /** GET /account (scope account:read). */
  async getAccount(root: string, token: string): Promise<TalkdeskAccount> {
    return this.json({ method: 'GET', target: this.at(root, ['account']), token, secrets: [token] }, accountSchema);
  }

  /** GET /users/{id} (scope users:read). */
  async getUser(root: string, userId: string, token: string): Promise<TalkdeskUser> {
    return this.json({ method: 'GET', target: this.at(root, ['users', segment(userId, 'user id')]), token, secrets: [token] }, userSchema);
  }

  /** Every user of GET /users across all pages (scope users:read). */
  async listUsers(root: string, token: string): Promise<TalkdeskUser[]> {
    return this.allPages(this.at(root, ['users']), token);
  }

  /** Every licensed user of the installation across all pages (scope apps:read). */
  async listLicensedUsers(root: string, appId: string, installationId: string, token: string): Promise<TalkdeskUser[]> {
    return this.allPages(this.at(root, [...this.installationPath(appId, installationId), 'users']), token);
  }

  /**
   * One page of the installation's licensed users (scope apps:read), for a reader that
   * heartbeats and resumes page by page: `pageUrl` is a `next` this method returned
   * (absent for the first page); `next` is absent on the last page.
   */
  async licensedUsersPage(
    root: string,
    appId: string,
    installationId: string,
    token: string,
    pageUrl?: string,
  ): Promise<{ users: TalkdeskUser[]; next?: string }> {
    const first = this.at(root, [...this.installationPath(appId, installationId), 'users']);
    const current = pageUrl ? matchAllowedUrl(pageUrl, this.allowList) : first;
    if (current.url.host !== first.url.host || current.url.protocol !== first.url.protocol) {
      throw new DisallowedHostError({ host: current.url.host, reason: 'a paging link points away from the API root host' });
    }
    const page: TalkdeskUsersPage = await this.json({ method: 'GET', target: current, token, secrets: [token] }, usersPageSchema);
    const next = this.nextPage(page, current, first, new Set([current.url.href]));
    return { users: page._embedded?.users ?? [], ...(next ? { next: next.url.href } : {}) };
  }

  /** GET /apps/{app_id}/installations/{id} (scope apps:read); `_embedded.state` comes out as `state`. */
  async getInstallation(root: string, appId: string, installationId: string, token: string): Promise<TalkdeskInstallation> {
    const target = this.at(root, this.installationPath(appId, installationId));
    return this.json({ method: 'GET', target, token, secrets: [token] }, installationSchema);
  }

  /** Approve or reject (also acknowledges an update or uninstall): POST .../state (scope apps:write). */
  async setInstallationState(
    root: string,
    appId: string,
    installationId: string,
    token: string,
    change: InstallationStateChange,
  ): Promise<TalkdeskInstallationState> {
    let payload: InstallationStateChange;
    if (change.state === 'approve') payload = { state: 'approve' };
    else if (change.state === 'reject' && typeof change.reason === 'string' && change.reason.trim() !== '') {
      payload = { state: 'reject', reason: change.reason };
    } else throw new TalkdeskRequestError('the state change must be approve, or reject with a non-empty reason');

    const target = this.at(root, [...this.installationPath(appId, installationId), 'state']);
    return this.json(
      { method: 'POST', target, token, secrets: [token], body: { contentType: 'application/json', text: JSON.stringify(payload) } },
      installationStateSchema,
    );
  }

  /** Acknowledge rotated credentials: POST .../credentials/{client_id}/state {"state":"acknowledged"} → 202. */
  async acknowledgeCredentials(root: string, appId: string, installationId: string, clientId: string, token: string): Promise<void> {
    const target = this.at(root, [...this.installationPath(appId, installationId), 'credentials', segment(clientId, 'client id'), 'state']);
    await this.exchange({
      method: 'POST',
      target,
      token,
      secrets: [token],
      body: { contentType: 'application/json', text: JSON.stringify({ state: 'acknowledged' }) },
    });
  }

  // ---- internals ---------------------------------------------------------

  private installationPath(appId: string, installationId: string): string[] {
    return ['apps', segment(appId, 'app id'), 'installations', segment(installationId, 'installation id')];
  }

  /** root (the event's `_links.root`, path prefix kept) + encoded segments, allow-listed. */
  private at(root: string, segments: string[]): AllowedUrl {
    const base = matchAllowedUrl(root, this.allowList).url;
    const url = new URL(base.href);
    url.pathname = `${base.pathname.replace(/\/+$/, '')}/${segments.join('/')}`;
    url.search = '';
    url.hash = '';
    return matchAllowedUrl(url, this.allowList);
  }

  private async allPages(first: AllowedUrl, token: string): Promise<TalkdeskUser[]> {
    const users = new Map<string, TalkdeskUser>();
    const seen = new Set<string>();
    let current: AllowedUrl | undefined = first;
    while (current) {
      if (seen.size >= this.maxPages) {
        throw new TalkdeskProtocolError({
          status: 200,
          endpoint: endpointOf('GET', first.url),
          issues: [`paging: more than ${this.maxPages} pages`],
        });
      }
      seen.add(current.url.href);
      const page: TalkdeskUsersPage = await this.json({ method: 'GET', target: current, token, secrets: [token] }, usersPageSchema);
      // Users added while paging shift offsets; keep each id once.
      for (const user of page._embedded?.users ?? []) if (!users.has(user.id)) users.set(user.id, user);
      current = this.nextPage(page, current, first, seen);
    }
    return [...users.values()];
  }

  /** `_links.next.href` when present, else page + 1 while page * per_page < total; same host as the first page only. */
  private nextPage(page: TalkdeskUsersPage, current: AllowedUrl, first: AllowedUrl, seen: Set<string>): AllowedUrl | undefined {
    const endpoint = endpointOf('GET', first.url);
    let candidate: URL | undefined;
    const href = page._links?.next?.href;
    if (href !== undefined) {
      try {
        candidate = new URL(href, current.url);
      } catch {
        throw new TalkdeskProtocolError({ status: 200, endpoint, issues: ['_links.next.href: not a URL'] });
      }
    } else if (
      page.total !== undefined &&
      page.page !== undefined &&
      page.per_page !== undefined &&
      (page._embedded?.users.length ?? 0) > 0 &&
      page.page * page.per_page < page.total
    ) {
      candidate = new URL(current.url);
      candidate.searchParams.set('page', String(page.page + 1));
      candidate.searchParams.set('per_page', String(page.per_page));
    }
    if (!candidate) return undefined;

    const next = matchAllowedUrl(candidate, this.allowList);
    if (next.url.host !== first.url.host || next.url.protocol !== first.url.protocol) {
      throw new DisallowedHostError({ host: next.url.host, reason: 'a paging link points away from the API root host' });
    }
    if (seen.has(next.url.href)) {
      throw new TalkdeskProtocolError({ status: 200, endpoint, issues: ['_links.next.href: repeats a page already read'] });
    }
    return next;
  }

  private async json<S extends z.ZodType>(call: Call, schema: S): Promise<z.output<S>> {
    const res = await this.exchange(call);
    return parseBody(schema, res, endpointOf(call.method, call.target.url));
  }

  /** Sends one request; returns a 2xx answer or throws a safe error. */
  private async exchange(call: Call): Promise<RawResponse> {
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

/** `METHOD /path` for errors and logs: never the query string. */
export function endpointOf(method: string, url: URL): string {
  return `${method} ${url.pathname}`;
}
