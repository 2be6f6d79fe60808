import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
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

/**
 * Answers Node writes itself, without reaching Koa (a malformed request, headers too
 * large, a request or its headers too slow), get the same headers. Same statuses and
 * condition as Node's own default handler: only when no response on this socket has
 * started (`_httpMessage` is Node's in-flight response of the connection).
 */
export function hardenClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex & { _httpMessage?: { headersSent?: boolean } | null }) => {
    if (err.code !== 'ECONNRESET' && socket.writable && !socket._httpMessage?.headersSent) {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const headers = Object.entries(SECURITY_HEADERS)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n${headers}Content-Length: 0\r\n\r\n`);
    }
    socket.destroy(err);
  });
}

export function securityHeaders(): Middleware {
  return async (ctx, next) => {
    ctx.set(SECURITY_HEADERS);
    await next();
  };
}
