import type Router from '@koa/router';
import type { Context } from 'koa';
import { publicJwks } from '../../sso/signing-keys';
import { PeriodicTask } from '../periodic';
import { appHome, appLogout, pageOrError, APP_LOGOUT_PATH, APP_PATH, signedOut, SIGNED_OUT_PATH } from './app-page';
import { createCallbackHooks, type CallbackLaunchHooks } from './callback-hooks';
import { createLaunchContext, type LaunchContext, type LaunchOptions, type LaunchParts } from './context';
import { refuseNonNavigation, refuseSpentSource } from './failure';
import { handleUnhandledLogouts } from './logout-handling';
import { dropSessionCookie, launch, LAUNCH_PATH, ssoCallback, SSO_CALLBACK_PATH } from './sign-in';

export { LAUNCH_PATH, SSO_CALLBACK_PATH } from './sign-in';
export { APP_PATH, APP_LOGOUT_PATH, SIGNED_OUT_PATH } from './app-page';
export type { LaunchOptions, UserLogoutHook, UserLogoutNotice } from './context';
export const JWKS_PATH = '/.well-known/jwks.json';

/** The launch area as the web server uses it. */
export interface Launch {
  routes(router: Router): void;
  callbackHooks: CallbackLaunchHooks;
  /** Starts the periodic work once the server listens; `url` is its own address (APP_BASE_URL's default). */
  start(url: string): void;
  /** Stops it, waiting for what is running and for logouts being forwarded. */
  stop(): Promise<void>;
}

/** How often the retry pass looks for user.logout forwards due again. */
export const LOGOUT_RETRY_PASS_MS = 15_000;
/** How often the backstop looks for a stored user.logout never handled (logout-handling.ts). */
export const LOGOUT_BACKSTOP_PASS_MS = 5 * 60_000;

export function createLaunch(o: LaunchOptions & LaunchParts): Launch {
  const lc = createLaunchContext(o);
  const sweep = async () => {
    const failuresBefore = new Date(Date.now() - lc.settings.failureRetentionDays * 86_400_000);
    const [sessions, states, failures] = await Promise.all([lc.sessions.sweep(), lc.states.sweep(), lc.failures.sweep(failuresBefore)]);
    if (sessions || states || failures)
      lc.logger.debug({ sessions, states, failures }, 'expired sessions, sign-in states and old sign-in failures removed');
  };
  const sweeper = new PeriodicTask('session sweep', sweep, lc.logger, lc.settings.sweepIntervalMs);
  const backstop = new PeriodicTask(
    'user.logout backstop pass',
    async () => void (await handleUnhandledLogouts(lc, o.logoutBackstop?.afterMs)),
    lc.logger,
    o.logoutBackstop?.passMs ?? LOGOUT_BACKSTOP_PASS_MS,
  );
  const forwarder = lc.logoutForwarder;
  const retryLogouts = forwarder
    ? new PeriodicTask(
        'user.logout forward retry pass',
        async () => void (await forwarder.retryDue()),
        lc.logger,
        o.logoutForwardTiming?.passIntervalMs ?? LOGOUT_RETRY_PASS_MS,
      )
    : undefined;
  // A request that is no navigation (another site's image or fetch) is refused first, spending nothing; a source that
  // spent its failed sign-in budget next, before the store is touched. `refused`: what a request refused for its
  // budget still does (no store write).
  const signInRoute =
    (handle: (lc: LaunchContext, ctx: Context) => Promise<void>, refused?: (lc: LaunchContext, ctx: Context) => unknown) =>
    async (ctx: Context) => {
      if (refuseNonNavigation(lc, ctx)) return;
      if (!refuseSpentSource(lc, ctx)) await handle(lc, ctx);
      else refused?.(lc, ctx);
    };
  return {
    callbackHooks: createCallbackHooks(lc),
    routes(router) {
      // A launch refused drops the browser's session all the same (another user may be at it), as one that goes on ends it.
      router.get(LAUNCH_PATH, signInRoute(launch, dropSessionCookie));
      router.get(SSO_CALLBACK_PATH, signInRoute(ssoCallback));
      router.get(APP_PATH, (ctx) => pageOrError(lc, ctx, appHome));
      router.post(APP_LOGOUT_PATH, (ctx) => pageOrError(lc, ctx, appLogout));
      router.get(SIGNED_OUT_PATH, (ctx) => signedOut(lc, ctx));
      router.get(JWKS_PATH, async (ctx) => {
        ctx.set('Cache-Control', 'public, max-age=300');
        ctx.body = await publicJwks(lc.settings.signingKeys);
      });
    },
    start(url) {
      lc.setServerUrl(url);
      void Promise.all([
        lc.sessions.ensureIndexes(),
        lc.states.ensureIndexes(),
        lc.failures.ensureIndexes(),
        lc.logoutForwarder?.ensureIndexes(),
      ]).catch((err: unknown) => lc.logger.warn({ error: err instanceof Error ? err.name : 'unknown' }, 'launch indexes not ensured yet'));
      sweeper.start();
      backstop.start();
      retryLogouts?.start();
    },
    async stop() {
      forwarder?.stop();
      await Promise.all([sweeper.stop(), backstop.stop(), retryLogouts?.stop(), forwarder?.drain()]);
    },
  };
}
