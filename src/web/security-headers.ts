import type { Middleware } from 'koa';

/**
 * Response headers on every answer of a listener, errors included (the outermost
 * middleware sets them before anything can answer, and nothing below removes
 * them): browsers must not guess a JSON error's type (`nosniff`), and nothing
 * that can carry user or event data may be kept by a cache or proxy (`no-store`).
 * A route that serves something cacheable, or pages with their own
 * Content-Security-Policy (the launch pages), sets its headers over these.
 */
export const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
} as const;

export function securityHeaders(): Middleware {
  return async (ctx, next) => {
    ctx.set(SECURITY_HEADERS);
    await next();
  };
}
