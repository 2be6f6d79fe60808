import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../logging/logger';
import { createCallbackHandler, errorCode, type CallbackDeps } from './callback';
import type { Launch } from './launch';
import type { WebMetrics } from './metrics';
import { securityHeaders } from './security-headers';

export const CALLBACK_PATH = '/talkdesk/events';

export interface AppDeps extends CallbackDeps {
  logger: Logger;
  metrics: WebMetrics;
  /** Sign-in from Talkdesk and the app's pages (docs/launch.md); absent: not served. */
  launchArea?: Launch;
}

/** The public Koa application: the callback and a cheap liveness check (readiness and metrics are on the admin listener, admin.ts). */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  // Errors Koa reports outside the middleware (a socket reset or a request the HTTP
  // parser refused mid-body): the client's doing. Logged by name and code only,
  // instead of Koa's default of printing the stack to stderr.
  app.on('error', (err: unknown) => {
    const code = errorCode(err);
    const clientSide = /\b(HPE_[A-Z_]+|ECONNRESET|EPIPE|ECONNABORTED|ERR_STREAM_PREMATURE_CLOSE)\b/.test(code);
    if (clientSide) deps.logger.debug({ error: code }, 'client connection error');
    else deps.logger.warn({ error: code }, 'HTTP error outside a request handler');
  });
  const router = new Router();

  app.use(securityHeaders());
  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } catch (err) {
      // Never let an unexpected error's message or stack reach the client.
      deps.logger.error({ err, path: ctx.path }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal', message: 'Internal error; the event was not accepted, deliver it again.' } };
    } finally {
      if (ctx.path === CALLBACK_PATH) {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        deps.metrics.callbackLatency.observe({ status: String(ctx.status) }, seconds);
      }
    }
  });

  router.post(CALLBACK_PATH, createCallbackHandler(deps));
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  deps.launchArea?.routes(router);

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
