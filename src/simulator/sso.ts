import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { errorResponse } from './errors';
import { envelopeHead, installationUrl, type EventContext } from './events';
import type { SimResponse } from './http-util';
import { hexId, opaqueSecret } from './ids';
import { ASSERTION_TYPE, oauthError, ofAccount, verifyAssertion, type TokenEndpointConfig } from './oauth';
import type { ClientRecord, SimState, UserRecord } from './state';
import type { CallRecord, EventOptions, UserLogoutEvent } from './types';

/** A code is good for this long (Talkdesk does not say; RFC 6749 advises at most 10 minutes). */
export const CODE_TTL_MS = 3 * 60_000;

interface CodeRecord {
  clientId: string;
  installationId: string;
  userId: string;
  redirectUri: string;
  scopes: string[];
  /** The authorization request's `nonce`, copied into the ID token. */
  nonce?: string;
  expiresAt: number;
}

interface UserTokenRecord {
  userId: string;
  installationId: string;
  scopes: string[];
  expiresAt: number;
}

/** Unused pick-page tokens kept (each page's links carry one). */
const MAX_PICK_TOKENS = 1_000;
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (status: number, title: string, body: string): SimResponse => ({
  status,
  headers: { ...NO_STORE, 'content-security-policy': "default-src 'none'" },
  text: { contentType: 'text/html; charset=utf-8', content: `<!doctype html><title>${esc(title)}</title><h1>${esc(title)}</h1>${body}` },
});

/**
 * The sign-in side of the simulated Talkdesk: `GET /accounts/<id>/oauth/authorize` (signs in the user a
 * test or the demo picked), the authorization_code grant, `GET /users/me`, and the
 * `user.logout` event builder.
 */
export class SsoSimulator {
  /** Account id -> the Talkdesk user signed in there (what a browser session at Talkdesk would be). */
  private readonly signedIn = new Map<string, string>();
  private readonly codes = new Map<string, CodeRecord>();
  /** The pick page's one-time tokens: `user_id` chooses the user only from that page's links (Talkdesk takes no hint). */
  private readonly pickTokens = new Set<string>();
  private readonly userTokens = new Map<string, UserTokenRecord>();
  private nextError: { error: string; description: string } | undefined;
  /** The app version's registered redirect URLs (talkdesk-sso.md §1.4); none registered: any is taken. */
  private readonly redirectUris = new Set<string>();
  /** Signs the ID tokens (HS256; Talkdesk documents neither their keys nor their claims, and the service does not verify them). */
  private readonly idTokenKey = randomBytes(32);

  constructor(
    private readonly state: SimState,
    private readonly ctx: EventContext,
    private readonly tokenTtlSeconds: number,
  ) {}

  /** The user `GET /accounts/<id>/oauth/authorize` signs in for this installation's account from now on. */
  signInAs(installationId: string, userId: string): void {
    const inst = this.state.installations.get(installationId);
    const user = this.state.users.get(userId);
    if (!inst || !user || user.accountId !== inst.accountId)
      throw new Error(`user ${userId} is not in the account of installation ${installationId}`);
    this.signedIn.set(inst.accountId, userId);
  }

  /** Registers a redirect URL, as a partner does for the app version: from then on only registered ones are taken. */
  registerRedirectUri(uri: string): void {
    this.redirectUris.add(uri);
  }

  /** The next authorization request answers the redirect URI with this OAuth error instead of a code. */
  denyNextAuthorization(error = 'access_denied', description = 'The user denied the request'): void {
    this.nextError = { error, description };
  }

  accountUsers(installationId: string): { id: string; name: string; email: string; licensed: boolean }[] {
    const inst = this.state.installations.get(installationId);
    if (!inst) throw new Error(`unknown installation ${installationId}`);
    const ids = this.state.accounts.get(inst.accountId)?.userIds ?? [];
    return ids
      .map((id) => this.state.users.get(id))
      .filter((u): u is UserRecord => u !== undefined)
      .map((u) => ({ id: u.id, name: u.name, email: u.email, licensed: inst.licensedUserIds.includes(u.id) }));
  }

  userLogout(installationId: string, userId: string, opts?: EventOptions): UserLogoutEvent {
    const inst = this.state.installations.get(installationId);
    const user = this.state.users.get(userId);
    if (!inst || !user) throw new Error(`unknown installation ${installationId} or user ${userId}`);
    const id = opts?.id ?? hexId();
    const { app_version_id: _v, app_version_name: _n, ...head } = envelopeHead(this.ctx, 'user.logout', id, opts);
    return {
      ...head,
      data: { account_id: inst.accountId, user_id: user.id, user_email: user.email, installation_id: inst.id },
      _links: {
        root: { href: this.ctx.baseUrl },
        self: { href: `${this.ctx.baseUrl}/apps/${encodeURIComponent(this.ctx.appId)}/events/${id}` },
        user: { href: `${this.ctx.baseUrl}/users/${user.id}` },
        installation: { href: installationUrl(this.ctx, inst.id) },
      },
    };
  }

  /** GET /accounts/<id>/oauth/authorize: a code for the signed-in user, or a page to pick one (the demo). */
  authorize(url: URL, accountId: string | undefined): SimResponse {
    const q = url.searchParams;
    // RFC 6749 §3.1: no parameter more than once (which redirect_uri would it be?): a page, never a redirect.
    const repeated = [...new Set(q.keys())].find((k) => q.getAll(k).length > 1);
    if (repeated) return page(400, `Parameter ${repeated} is repeated`, '');
    const client = this.state.clients.get(q.get('client_id') ?? '');
    const redirect = parseRedirect(q.get('redirect_uri'));
    // Never redirect to an unchecked address: a bad client or redirect URI gets a page.
    if (!client || !this.state.clientValid(client)) return page(400, 'Unknown or revoked client_id', '');
    if (!ofAccount(this.state, client, accountId))
      return page(400, "client_id is not of this account (use its install event's _links.authorization)", '');
    if (!redirect) return page(400, 'redirect_uri must be an absolute http(s) URL', '');
    if (this.redirectUris.size > 0 && !this.redirectUris.has(q.get('redirect_uri') ?? ''))
      return page(400, 'redirect_uri is not a registered redirect URL of this app', '');
    const back = (params: Record<string, string>): SimResponse => {
      const target = new URL(redirect.href);
      for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
      const state = q.get('state');
      if (state !== null) target.searchParams.set('state', state);
      return { status: 302, headers: { ...NO_STORE, location: target.href } };
    };
    if (this.nextError) {
      const e = this.nextError;
      this.nextError = undefined;
      return back({ error: e.error, error_description: e.description });
    }
    if (q.get('response_type') !== 'code')
      return back({ error: 'unsupported_response_type', error_description: 'response_type must be code' });
    const inst = this.state.installations.get(client.installationId);
    if (!inst) return back({ error: 'invalid_request', error_description: 'client has no installation' });
    // Talkdesk signs in whoever holds its session: a request parameter never picks the user (talkdesk-sso.md), only a
    // click on the simulator's own pick page does.
    const pickToken = q.get('sim_pick');
    const picked = pickToken !== null && this.pickTokens.delete(pickToken) ? q.get('user_id') : null;
    const pickedUser = picked ? this.state.users.get(picked) : undefined;
    const userId = pickedUser?.accountId === inst.accountId ? pickedUser.id : this.signedIn.get(inst.accountId);
    if (!userId) return this.pickPage(url, inst.id);
    if (pickedUser) this.signedIn.set(inst.accountId, pickedUser.id);
    const requested = [...new Set((q.get('scope') ?? '').split(' ').filter((s) => s.length > 0))];
    const code = opaqueSecret(24);
    this.state.addSecret(code);
    this.codes.set(code, {
      clientId: client.clientId,
      installationId: inst.id,
      userId,
      // As sent: the token request must repeat it identically (RFC 6749 §4.1.3), not merely equivalently.
      redirectUri: q.get('redirect_uri') ?? '',
      // "if none were requested, the client's granted scopes" (talkdesk-sso.md §2): never an empty `scope`.
      scopes: requested.length > 0 ? requested : [...inst.scopes],
      ...(q.get('nonce') ? { nonce: q.get('nonce') ?? '' } : {}),
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    return back({ code });
  }

  private pickPage(url: URL, installationId: string): SimResponse {
    const token = opaqueSecret(16);
    this.pickTokens.add(token);
    // A long demo session renders many pages: the oldest unused tokens go (a Set iterates in insertion order).
    while (this.pickTokens.size > MAX_PICK_TOKENS) this.pickTokens.delete(this.pickTokens.values().next().value as string);
    const items = this.accountUsers(installationId).map((u) => {
      const target = new URL(url.href);
      target.searchParams.set('user_id', u.id);
      target.searchParams.set('sim_pick', token);
      return `<li><a href="${esc(target.pathname + target.search)}">${esc(u.name)} (${esc(u.email)})${u.licensed ? '' : ' - not licensed'}</a></li>`;
    });
    return page(200, 'Simulated Talkdesk: sign in as', `<ul>${items.join('')}</ul>`);
  }

  /** The authorization_code grant: client assertion or HTTP Basic, code single use and bound. */
  async codeGrant(
    cfg: TokenEndpointConfig,
    req: IncomingMessage,
    fields: Record<string, string>,
    call: CallRecord,
    accountId: string,
  ): Promise<SimResponse> {
    const basic = req.headers.authorization;
    const hasAssertion = fields.client_assertion !== undefined || fields.client_assertion_type !== undefined;
    if (basic !== undefined && hasAssertion) return oauthError(400, 'invalid_request', 'use one client authentication method only');
    let client: ClientRecord | undefined;
    call.clientAuth = basic !== undefined ? 'basic' : 'assertion';
    if (basic !== undefined) {
      if ('client_secret' in fields) return oauthError(400, 'invalid_request', 'client_secret belongs in the Authorization header');
      client = this.basicClient(basic);
      if (!client || !ofAccount(this.state, client, accountId)) return oauthError(401, 'invalid_client', 'client authentication failed');
      call.clientId = client.clientId;
      call.installationId = client.installationId;
    } else {
      if ('client_secret' in fields)
        return oauthError(400, 'invalid_request', 'use the client assertion or HTTP Basic, not a client_secret field');
      if (fields.client_assertion_type !== ASSERTION_TYPE || !fields.client_assertion) {
        return oauthError(400, 'invalid_request', `client_assertion_type must be ${ASSERTION_TYPE} with a client_assertion`);
      }
      const verified = await verifyAssertion(cfg, fields.client_assertion, call, accountId);
      if (!verified.ok) return oauthError(401, 'invalid_client', verified.description);
      client = verified.client;
    }
    if (fields.client_id !== undefined && fields.client_id !== client.clientId)
      return oauthError(401, 'invalid_client', 'client_id does not match the client authentication');
    const code = fields.code ?? '';
    const rec = this.codes.get(code);
    this.codes.delete(code); // single use, whatever happens next
    if (!rec || rec.expiresAt <= Date.now()) return oauthError(400, 'invalid_grant', 'the code is unknown, used or expired');
    if (rec.clientId !== client.clientId) return oauthError(400, 'invalid_grant', 'the code was issued to another client');
    if (fields.redirect_uri !== rec.redirectUri)
      return oauthError(400, 'invalid_grant', 'redirect_uri differs from the authorization request');
    const token = opaqueSecret();
    const refresh = opaqueSecret();
    this.state.addSecret(token);
    this.state.addSecret(refresh);
    this.userTokens.set(token, {
      userId: rec.userId,
      installationId: rec.installationId,
      scopes: rec.scopes,
      expiresAt: Date.now() + this.tokenTtlSeconds * 1000,
    });
    // As documented: an ID token only when `openid` was requested at .../oauth/authorize.
    const idToken = rec.scopes.includes('openid') ? this.idToken(rec) : undefined;
    if (idToken) this.state.addSecret(idToken);
    return {
      status: 200,
      headers: NO_STORE,
      body: {
        access_token: token,
        token_type: 'Bearer',
        expires_in: this.tokenTtlSeconds,
        scope: rec.scopes.join(' '),
        refresh_token: refresh,
        sid: hexId(),
        ...(idToken ? { id_token: idToken } : {}),
      },
    };
  }

  /** An OpenID Connect ID token for the code's user, with the authorization request's nonce. */
  private idToken(rec: CodeRecord): string {
    const now = Math.floor(Date.now() / 1000);
    const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const claims = { iss: this.ctx.baseUrl, sub: rec.userId, aud: rec.clientId, iat: now, exp: now + this.tokenTtlSeconds };
    const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ ...claims, ...(rec.nonce ? { nonce: rec.nonce } : {}) })}`;
    return `${signed}.${createHmac('sha256', this.idTokenKey).update(signed).digest('base64url')}`;
  }

  private basicClient(header: string): ClientRecord | undefined {
    // The scheme name is case-insensitive (RFC 7235 §2.1).
    const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!m?.[1]) return undefined;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    // Form-urlencoded parts (RFC 6749 §2.3.1; '+' is a space, inert for the simulator's hex ids and base64url
    // secrets); a malformed escape is a failed authentication, not a 500.
    const part = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return undefined;
      }
    };
    const id = part(decoded.slice(0, colon));
    const secret = part(decoded.slice(colon + 1));
    if (id === undefined || secret === undefined) return undefined;
    const client = this.state.clients.get(id);
    if (!client || !this.state.clientValid(client)) return undefined;
    const given = Buffer.from(secret);
    const expected = Buffer.from(client.clientSecret);
    return given.length === expected.length && timingSafeEqual(given, expected) ? client : undefined;
  }

  /** GET /users/me with a user's token (scope openid). */
  userinfo(req: IncomingMessage): SimResponse {
    const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.headers.authorization ?? '');
    const rec = m?.[1] ? this.userTokens.get(m[1]) : undefined;
    // A valid client-credentials token has no user: documented as 400 "no user context" (talkdesk-sso.md §3).
    if (!rec && m?.[1] && this.state.liveToken(m[1])) return errorResponse('userinfo', 400, 'no user context');
    if (!rec || rec.expiresAt <= Date.now()) {
      return errorResponse('userinfo', 401, 'invalid or expired access token', {
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      });
    }
    if (!rec.scopes.includes('openid')) return errorResponse('userinfo', 403, 'token lacks scope openid');
    const user = this.state.users.get(rec.userId);
    if (!user) return errorResponse('userinfo', 400, 'no user context');
    return {
      status: 200,
      body: {
        id: user.id,
        sub: user.id,
        name: user.name,
        email: user.email,
        _links: { self: { href: `${this.ctx.baseUrl}/users/${user.id}` } },
      },
    };
  }
}

function parseRedirect(value: string | null): URL | undefined {
  if (!value) return undefined;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
  } catch {
    return undefined;
  }
}
