import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

export const SSO_COOKIE = 'appconnect_sso';
export const SESSION_COOKIE = 'appconnect_session';

export interface CookieOptions {
  path: string;
  maxAgeSeconds: number;
  sameSite: 'lax' | 'none';
  secure: boolean;
}

/** Written by hand: Koa refuses a Secure cookie on a plain connection, which a TLS-terminating proxy is. */
export function setCookie(ctx: Context, name: string, value: string, o: CookieOptions): void {
  const parts = [
    `${name}=${value}`,
    `Path=${o.path}`,
    `Max-Age=${o.maxAgeSeconds}`,
    'HttpOnly',
    `SameSite=${o.sameSite === 'none' ? 'None' : 'Lax'}`,
  ];
  if (o.secure || o.sameSite === 'none') parts.push('Secure');
  // Framed in Talkdesk's page (SameSite=None): partitioned (CHIPS), so a browser blocking third-party cookies
  // (Chrome's incognito, a managed policy) keeps them for that frame instead of dropping them (every sign-in failed).
  if (o.sameSite === 'none') {
    // An unpartitioned cookie of this name (set before Partitioned was) would shadow the new one: expired first. A
    // browser ignoring Partitioned takes both as one cookie: expired, then set, in this order.
    ctx.append('Set-Cookie', [`${name}=`, `Path=${o.path}`, 'Max-Age=0', 'HttpOnly', 'SameSite=None', 'Secure'].join('; '));
    parts.push('Partitioned');
  }
  ctx.append('Set-Cookie', parts.join('; '));
}

export function clearCookie(ctx: Context, name: string, o: Omit<CookieOptions, 'maxAgeSeconds'>): void {
  setCookie(ctx, name, '', { ...o, maxAgeSeconds: 0 });
}

const COOKIE_VALUE = /^[A-Za-z0-9_-]+$/;

/** A cookie's value when it looks like one of ours (base64url, 20 to `maxLength` characters), else undefined. */
export function readCookie(ctx: Context, name: string, maxLength = 100): string | undefined {
  const v = ctx.cookies.get(name);
  return v && v.length >= 20 && v.length <= maxLength && COOKIE_VALUE.test(v) ? v : undefined;
}

export const nonce = (): string => randomBytes(16).toString('base64');

/**
 * Whether a page may be framed, and by whom: every page of the launch alike (a sign-in failure and the
 * hand-off happen inside Talkdesk's frame as much as `/app` does; a page that refuses to be framed
 * shows there as a blocked frame, not as its explanation). `listedOnly` (the hand-off, which signs the
 * user in to the partner's app at once): framed only by listed origins, never by any site.
 */
export function framingOf(
  s: { sameSite: 'lax' | 'none'; frameAncestors: string[] },
  o: { listedOnly?: boolean } = {},
): { framed: boolean; frameAncestors: string[] } {
  return { framed: s.sameSite === 'none' && (!o.listedOnly || s.frameAncestors.length > 0), frameAncestors: s.frameAncestors };
}

/**
 * Headers of every page: its own Content-Security-Policy (styles and scripts by nonce, the
 * Talkdesk widget's host when allowed), no caching, no referrer (a callback URL holds a code).
 */
export function pageHeaders(
  ctx: Context,
  csp: { nonce: string; scriptHosts?: string[]; formAction?: string; framed?: boolean; frameAncestors?: string[] },
): void {
  const scripts = [`'nonce-${csp.nonce}'`, ...(csp.scriptHosts ?? []).map((h) => `https://${h}`)];
  const directives = [
    "default-src 'none'",
    `style-src 'nonce-${csp.nonce}'`,
    `script-src ${scripts.join(' ')}`,
    "img-src 'self' data:",
    `form-action ${csp.formAction ?? "'self'"}`,
    "base-uri 'none'",
  ];
  // Framed by Talkdesk only when the cookies were set up for it (SESSION_COOKIE_SAMESITE=none),
  // and then only by the origins of APP_FRAME_ANCESTORS when it lists any.
  if (!csp.framed) directives.push("frame-ancestors 'none'");
  else if (csp.frameAncestors?.length) directives.push(`frame-ancestors ${csp.frameAncestors.join(' ')}`);
  ctx.set('Content-Security-Policy', directives.join('; '));
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Content-Type-Options', 'nosniff');
}

export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A redirect with no body (Koa's `redirect` writes a "Redirecting to" text): nothing to render, nothing to click. */
export function redirectTo(ctx: Context, status: 302 | 303, location: string): void {
  ctx.status = status;
  ctx.set('Location', location);
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.body = '';
}
