import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../logging/logger';
import type { WebMetrics } from './metrics';
import { hardenClientErrors, securityHeaders } from './security-headers';
import { listenerUrl, listenOn } from './listen';

/**
 * The admin listener (ADMIN_HOST:ADMIN_PORT, loopback by default): readiness and
 * Prometheus metrics, kept off the public port. `/readyz` pings MongoDB and
 * Temporal and `/metrics` describes the process; neither belongs on the port
 * the internet reaches, and a probe storm must not become a ping storm, so the
 * readiness answer is cached for a moment.
 */

export interface Readiness {
  mongodb: boolean;
  temporal: boolean;
}

export interface AdminDeps {
  logger: Logger;
  metrics: WebMetrics;
  readiness(): Promise<Readiness>;
  /** True once the process is stopping: /readyz answers 503 so load balancers stop sending. */
  stopping?(): boolean;
  /** Events stored and not yet handed over, for `appconnect_dispatch_backlog`; -1 when unknown. */
  backlog(): Promise<number>;
}

/** Shares one check among concurrent callers and reuses its answer for `ttlMs`. */
export function cachedReadiness(check: () => Promise<Readiness>, ttlMs = 1_500, now: () => number = Date.now): () => Promise<Readiness> {
  let last: { at: number; value: Readiness } | undefined;
  let running: Promise<Readiness> | undefined;
  return () => {
    if (last && now() - last.at < ttlMs) return Promise.resolve(last.value);
    running ??= check()
      .then((value) => {
        last = { at: now(), value };
        return value;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}

export function createAdminApp(deps: AdminDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  app.on('error', (err: unknown) => deps.logger.debug({ error: err instanceof Error ? err.name : 'unknown' }, 'admin connection error'));
  const router = new Router();
  app.use(securityHeaders());
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      deps.logger.error({ err, path: ctx.path }, 'unhandled admin error');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal', message: 'Internal error.' } };
    }
  });
  router.get('/readyz', async (ctx) => {
    if (deps.stopping?.()) {
      ctx.status = 503;
      ctx.body = { status: 'stopping' };
      return;
    }
    // Ready to take Talkdesk's calls is MongoDB's answer alone: with Temporal out of reach the callback stores each
    // event and answers 202 (the dispatcher hands it over later); taken out of rotation, every delivery, and the only
    // copy of a new account's credentials, would be refused until Talkdesk stopped retrying. Temporal shows in the body.
    const ready = await deps.readiness();
    ctx.status = ready.mongodb ? 200 : 503;
    ctx.body = { status: !ready.mongodb ? 'not ready' : ready.temporal ? 'ready' : 'degraded', ...ready };
  });
  router.get('/metrics', async (ctx) => {
    deps.metrics.dispatchBacklog.set(await deps.backlog().catch(() => -1));
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

export interface RunningAdminServer {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/** Listens with the admin app on `host:port` (0: a free port). */
export async function startAdminServer(host: string, port: number, deps: AdminDeps): Promise<RunningAdminServer> {
  const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, createAdminApp(deps).callback());
  server.keepAliveTimeout = 5_000;
  hardenClientErrors(server);
  await listenOn(server, port, host, { port: 'ADMIN_PORT', host: 'ADMIN_HOST' });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: listenerUrl(host, bound),
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
