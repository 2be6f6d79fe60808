import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { errorResponse } from './errors';
import { installationUrl, type EventContext } from './events';
import { mediaType, tryParseJson, type SimResponse } from './http-util';
import type { RouteParams } from './router';
import type { SimInstallation, SimState, TokenRecord, UserRecord } from './state';
import type { CallRecord, RouteName, Scope } from './types';

export interface ApiConfig {
  state: SimState;
  ctx: EventContext;
  /** How long an installation's scopes answer 401 after it is created (SimulatorOptions.scopeActivationSeconds). */
  scopeActivationMs: number;
}

export interface ApiRequest {
  route: RouteName;
  req: IncomingMessage;
  url: URL;
  raw: string;
  params: RouteParams;
  call: CallRecord;
}

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 100;

const REQUIRED_SCOPE: Record<Exclude<RouteName, 'token' | 'authorize' | 'userinfo'>, Scope> = {
  account: 'account:read',
  users: 'users:read',
  installation: 'apps:read',
  licensedUsers: 'apps:read',
  installationState: 'apps:write',
  credentialsState: 'apps:write',
};

const stateBodySchema = z.union([
  z.strictObject({ state: z.literal('approve') }),
  z.strictObject({
    state: z.literal('reject'),
    reason: z.string().refine((r) => r.trim().length > 0, 'reason must not be empty'),
  }),
]);

const credentialsBodySchema = z.strictObject({ state: z.literal('acknowledged') });

const pagingSchema = z.object({
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(MAX_PER_PAGE).default(DEFAULT_PER_PAGE),
});

type Authed = { ok: true; token: TokenRecord } | { ok: false; response: SimResponse };

/** Bearer check: 401 for a missing/unknown/expired token or a scope granted too recently, 403 when it lacks the route's scope. */
function authenticate(cfg: ApiConfig, r: ApiRequest): Authed {
  const header = r.req.headers.authorization ?? '';
  const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  const challenge = { 'www-authenticate': 'Bearer error="invalid_token"' };
  if (!m?.[1])
    return { ok: false, response: errorResponse(r.route, 401, 'missing bearer token', { headers: { 'www-authenticate': 'Bearer' } }) };
  const token = cfg.state.liveToken(m[1]);
  if (!token) return { ok: false, response: errorResponse(r.route, 401, 'invalid or expired access token', { headers: challenge }) };
  r.call.clientId = token.clientId;
  r.call.installationId ??= token.installationId;
  const scope = REQUIRED_SCOPE[r.route as Exclude<RouteName, 'token' | 'authorize' | 'userinfo'>];
  if (!token.scopes.includes(scope)) {
    return {
      ok: false,
      response: errorResponse(r.route, 403, `token lacks scope ${scope}`, {
        headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
      }),
    };
  }
  const installation = cfg.state.installations.get(token.installationId);
  if (installation && Date.now() < installation.createdAt.getTime() + cfg.scopeActivationMs) {
    return { ok: false, response: errorResponse(r.route, 401, `scope ${scope} not active yet; retry later`, { headers: challenge }) };
  }
  return { ok: true, token };
}

type Paged<T> = { ok: true; body: Record<string, unknown>; items: T[] } | { ok: false; response: SimResponse };

function page<T>(cfg: ApiConfig, r: ApiRequest, all: T[], render: (t: T) => unknown): Paged<T> {
  const q = pagingSchema.safeParse({
    page: r.url.searchParams.get('page') ?? undefined,
    per_page: r.url.searchParams.get('per_page') ?? undefined,
  });
  if (!q.success) {
    return { ok: false, response: errorResponse(r.route, 400, `page must be >= 1 and per_page between 1 and ${MAX_PER_PAGE}`) };
  }
  const { page: p, per_page: perPage } = q.data;
  const items = all.slice((p - 1) * perPage, p * perPage);
  const href = (n: number) => `${cfg.ctx.baseUrl}${r.url.pathname}?page=${n}&per_page=${perPage}`;
  const links: Record<string, { href: string }> = { self: { href: href(p) } };
  if (p * perPage < all.length) links.next = { href: href(p + 1) };
  if (p > 1) links.prev = { href: href(p - 1) };
  return {
    ok: true,
    items,
    body: { total: all.length, page: p, per_page: perPage, _embedded: { users: items.map(render) }, _links: links },
  };
}

const renderUser = (u: UserRecord) => ({ id: u.id, email: u.email, name: u.name, active: u.active });

/** 404 for an unknown app or installation, 403 when the token belongs to another installation. */
function ownInstallation(
  cfg: ApiConfig,
  r: ApiRequest,
  token: TokenRecord,
): { ok: true; inst: SimInstallation } | { ok: false; response: SimResponse } {
  const inst = r.params.installationId ? cfg.state.installations.get(r.params.installationId) : undefined;
  if (r.params.appId !== cfg.state.appId || !inst) {
    return { ok: false, response: errorResponse(r.route, 404, 'installation not found') };
  }
  if (inst.id !== token.installationId) {
    return { ok: false, response: errorResponse(r.route, 403, 'token belongs to another installation') };
  }
  return { ok: true, inst };
}

function account(cfg: ApiConfig, r: ApiRequest, token: TokenRecord): SimResponse {
  const a = cfg.state.accounts.get(token.accountId);
  if (!a) return errorResponse(r.route, 404, 'account not found');
  return {
    status: 200,
    body: { id: a.id, name: a.name, company_name: a.companyName, timezone: a.timezone, created_at: a.createdAt.toISOString() },
  };
}

function users(cfg: ApiConfig, r: ApiRequest, token: TokenRecord): SimResponse {
  if (r.params.userId !== undefined) {
    const u = cfg.state.users.get(r.params.userId);
    if (!u) return errorResponse(r.route, 404, 'user not found');
    if (u.accountId !== token.accountId) return errorResponse(r.route, 403, 'user belongs to another account');
    return { status: 200, body: renderUser(u) };
  }
  const a = cfg.state.accounts.get(token.accountId);
  const list = (a?.userIds ?? []).map((id) => cfg.state.users.get(id)).filter((u): u is UserRecord => u !== undefined);
  const paged = page(cfg, r, list, renderUser);
  return paged.ok ? { status: 200, body: paged.body } : paged.response;
}

function installation(cfg: ApiConfig, r: ApiRequest, inst: SimInstallation): SimResponse {
  return {
    status: 200,
    body: {
      id: inst.id,
      app_id: inst.appId,
      account_id: inst.accountId,
      scopes: [...inst.scopes],
      created_at: inst.createdAt.toISOString(),
      ...(inst.createdBy ? { created_by: inst.createdBy } : {}),
      _embedded: {
        state: { state: inst.state, reason: inst.reason, updated_at: inst.stateUpdatedAt.toISOString() },
      },
      _links: { self: { href: installationUrl(cfg.ctx, inst.id) } },
    },
  };
}

function licensedUsers(cfg: ApiConfig, r: ApiRequest, inst: SimInstallation): SimResponse {
  const list = inst.licensedUserIds.map((id) => cfg.state.users.get(id)).filter((u): u is UserRecord => u !== undefined);
  const paged = page(cfg, r, list, renderUser);
  return paged.ok ? { status: 200, body: paged.body } : paged.response;
}

function jsonBody(r: ApiRequest): { ok: true; value: unknown } | { ok: false; response: SimResponse } {
  if (mediaType(r.req.headers['content-type']) !== 'application/json') {
    return { ok: false, response: errorResponse(r.route, 400, 'content-type must be application/json') };
  }
  const parsed = tryParseJson(r.raw);
  if (!parsed.ok) return { ok: false, response: errorResponse(r.route, 400, 'body is not valid JSON') };
  return parsed;
}

/** Approve/reject; the same call acknowledges an update and an uninstall. */
function installationState(cfg: ApiConfig, r: ApiRequest, inst: SimInstallation): SimResponse {
  const json = jsonBody(r);
  if (!json.ok) return json.response;
  const body = stateBodySchema.safeParse(json.value);
  if (!body.success) {
    return errorResponse(r.route, 400, 'body must be exactly {"state":"approve"} or {"state":"reject","reason":"<non-empty>"}');
  }
  const s = cfg.state;
  // Recorded for checks such as the soak's "one approval per operation": a call refused concluded nothing.
  r.call.concluded = inst.pendingOperation ?? 'nothing';
  const conflict = (why: string) => ((r.call.concluded = 'nothing'), errorResponse(r.route, 409, why));
  if (body.data.state === 'approve') {
    switch (inst.pendingOperation) {
      case 'install':
      case 'update':
        s.setState(inst, 'completed', null, null);
        break;
      case 'uninstall':
        s.setState(inst, 'revoked', null, null);
        if (s.revokeOnUninstall) s.revokeClients(inst);
        break;
      default:
        // Nothing open: Talkdesk concludes nothing, and a repeated approval is a stray call.
        return conflict(`nothing pending: installation is ${inst.state}`);
    }
  } else {
    if (inst.pendingOperation === 'uninstall') return conflict('an uninstall cannot be rejected');
    if (inst.pendingOperation === null) return conflict(`nothing to reject: installation is ${inst.state}`);
    s.setState(inst, 'rejected', body.data.reason, null);
  }
  const self = `${installationUrl(cfg.ctx, inst.id)}/state`;
  return {
    status: 200,
    body: {
      state: inst.state,
      reason: inst.reason,
      updated_at: inst.stateUpdatedAt.toISOString(),
      _links: { self: { href: self }, installation: { href: installationUrl(cfg.ctx, inst.id) } },
    },
  };
}

function credentialsState(cfg: ApiConfig, r: ApiRequest, inst: SimInstallation): SimResponse {
  const json = jsonBody(r);
  if (!json.ok) return json.response;
  if (!credentialsBodySchema.safeParse(json.value).success) {
    return errorResponse(r.route, 400, 'body must be exactly {"state":"acknowledged"}');
  }
  const client = r.params.clientId ? cfg.state.clients.get(r.params.clientId) : undefined;
  if (!client || client.installationId !== inst.id) return errorResponse(r.route, 404, 'client not found');
  // What is acknowledged is a rotation's new client (an inference: talkdesk-api.md); not 409 for the
  // others, which the service counts as a resent acknowledgement done (activities/talkdesk-calls.ts).
  if (!client.rotatedIn) return errorResponse(r.route, 404, 'no credentials rotation brought this client');
  if (client.acknowledgedAt) return errorResponse(r.route, 409, 'credentials already acknowledged');
  client.acknowledgedAt = new Date();
  return { status: 202, body: { state: 'acknowledged' } };
}

/** Every bearer-authenticated route. */
export function handleApi(cfg: ApiConfig, r: ApiRequest): SimResponse {
  const auth = authenticate(cfg, r);
  if (!auth.ok) return auth.response;
  const token = auth.token;
  switch (r.route) {
    case 'account':
      return account(cfg, r, token);
    case 'users':
      return users(cfg, r, token);
    case 'token':
      return errorResponse(r.route, 404, 'not found');
    default: {
      const own = ownInstallation(cfg, r, token);
      if (!own.ok) return own.response;
      if (r.route === 'installation') return installation(cfg, r, own.inst);
      if (r.route === 'licensedUsers') return licensedUsers(cfg, r, own.inst);
      if (r.route === 'installationState') return installationState(cfg, r, own.inst);
      return credentialsState(cfg, r, own.inst);
    }
  }
}
