import { hexId, isoSeconds } from './ids';
import type { EventOptions, InstalledLinks, Link } from './types';

/** What every event envelope needs to know about the simulated app and where it runs. */
export interface EventContext {
  appId: string;
  appVersionId: string;
  appVersionName: string;
  /** Base URL of the simulator, e.g. http://127.0.0.1:4010 */
  baseUrl: string;
}

/** Talkdesk's CDN script; static content the service never calls, so it stays real. */
export const WIDGET_URL = 'https://prd-cdn-talkdesk.talkdesk.com/tdconnect-widget/latest/td.connect.js';

const link = (href: string): Link => ({ href });

/**
 * An account's own token endpoint: Talkdesk's is per account (`https://{account}.talkdeskid.com/oauth/token`), apart
 * from the API root; here a path per account on the simulator's origin, so that a client assertion whose `aud` is
 * another account's token URL (or one built from the API root) is refused, as Talkdesk would.
 */
export function tokenUrl(ctx: EventContext, accountId: string): string {
  return `${ctx.baseUrl}/accounts/${encodeURIComponent(accountId)}/oauth/token`;
}

/** The account's sign-in (authorization) endpoint, beside its token endpoint. */
export function authorizeUrl(ctx: EventContext, accountId: string): string {
  return `${ctx.baseUrl}/accounts/${encodeURIComponent(accountId)}/oauth/authorize`;
}

export function installationUrl(ctx: EventContext, installationId: string): string {
  return `${ctx.baseUrl}/apps/${encodeURIComponent(ctx.appId)}/installations/${installationId}`;
}

function selfUrl(ctx: EventContext, eventId: string): string {
  return `${ctx.baseUrl}/apps/${encodeURIComponent(ctx.appId)}/events/${eventId}`;
}

export function eventId(opts?: EventOptions): string {
  return opts?.id ?? hexId();
}

export function createdAt(opts?: EventOptions): string {
  const at = opts?.createdAt;
  if (typeof at === 'string') return at;
  return isoSeconds(at ?? new Date());
}

export function installedLinks(ctx: EventContext, id: string, installationId: string, accountId: string): InstalledLinks {
  return {
    root: link(ctx.baseUrl),
    self: link(selfUrl(ctx, id)),
    userinfo: link(`${ctx.baseUrl}/users/me`),
    authorization: link(authorizeUrl(ctx, accountId)),
    tokens: link(tokenUrl(ctx, accountId)),
    installation: link(installationUrl(ctx, installationId)),
    widget_url: link(WIDGET_URL),
  };
}

export function rootSelfLinks(ctx: EventContext, id: string): { root: Link; self: Link } {
  return { root: link(ctx.baseUrl), self: link(selfUrl(ctx, id)) };
}

export function rootSelfInstallationLinks(
  ctx: EventContext,
  id: string,
  installationId: string,
): { root: Link; self: Link; installation: Link } {
  return { ...rootSelfLinks(ctx, id), installation: link(installationUrl(ctx, installationId)) };
}

/** The envelope fields shared by every event type. */
export function envelopeHead<T extends string>(ctx: EventContext, type: T, id: string, opts?: EventOptions) {
  return {
    id,
    created_at: createdAt(opts),
    api_version: '1' as const,
    type,
    app_id: ctx.appId,
    app_version_id: ctx.appVersionId,
    app_version_name: ctx.appVersionName,
  };
}
