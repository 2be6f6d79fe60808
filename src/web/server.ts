import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Keyring } from '../crypto/secrets';
import type { Logger } from '../logging/logger';
import type { Store } from '../store';
import type { InstallationOptions } from '../../workflows/options';
import { ConfigError } from '../errors';
import { cachedReadiness, startAdminServer, type RunningAdminServer } from './admin';
import { createApp, CALLBACK_PATH } from './app';
import { createWebHandOver, type InboxDispatcher } from '../handover';
import { createLaunch, type LaunchOptions } from './launch';
import { createWebMetrics } from './metrics';
import type { JsonLimits } from './json-limits';
import { CallbackLimiter } from './callback-limits';
import type { TrustProxy } from './client-address';
import { BodyBytesInFlight, parseSize } from './raw-body';
import { hardenClientErrors } from './security-headers';
import { InboxRetention, plausiblePrunedBefore } from '../store/inbox-retention';
import { watchStore, withTimeout } from '../store/watchdog';
import { PeriodicTask } from './periodic';
import { eventTimeLimits } from './event-time';
import type { EcdsaPublicKeys, HubAlgorithm } from './signature';
import { DEFAULT_SIGNATURE_SCHEMES, type SignatureScheme } from './signature-schemes';
import { closeGracefully, listenerUrl, listenOn } from './listen';

/** What the callback bodies being read may hold at once, at least (docs/security.md): 64 MiB. */
export const BODIES_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

/**
 * The bound on callback bodies being read, one source address holding at most an eighth of it (or two bodies of
 * the limit, if more): one address streaming slow bodies cannot hold it all and turn every delivery away. Beside it a
 * reserve of a quarter (or two bodies), for sources that delivered a signed body lately: unsigned bodies from a few
 * addresses together cannot turn Talkdesk away either.
 */
export function bodiesInFlight(total: number, bodyLimitBytes: number, reserve?: number): BodyBytesInFlight {
  const twoBodies = 2 * bodyLimitBytes;
  const perSource = Math.min(total, Math.max(twoBodies, Math.floor(total / 8)));
  return new BodyBytesInFlight(total, perSource, reserve ?? Math.max(twoBodies, Math.floor(total / 4)));
}

/** The web server's timeouts when not given: defined once here (the README quotes them). */
export const WEB_TIMEOUTS_MS = {
  /** A callback body, from its headers on. */
  body: 10_000,
  /** A whole request. */
  request: 15_000,
  /** A request's headers. */
  headers: 10_000,
  /** An idle keep-alive connection. */
  keepAlive: 5_000,
  /** At shutdown, how long requests being answered may take to finish. */
  closeGrace: 10_000,
  /** MongoDB's and Temporal's answers to the readiness check. */
  readiness: 2_000,
} as const;

export interface WebServerOptions {
  host: string;
  port: number;
  appId: string;
  webhookSecrets: string[];
  skipSignatureCheck?: boolean;
  /** Accepted signature schemes (CALLBACK_SIGNATURE_SCHEMES); DEFAULT_SIGNATURE_SCHEMES when not given. */
  signatureSchemes?: readonly SignatureScheme[];
  /** Public keys of the ecdsa scheme by key id (TALKDESK_ECDSA_PUBLIC_KEYS); required when it is enabled. */
  ecdsaPublicKeys?: EcdsaPublicKeys;
  /** HMAC algorithms accepted (CALLBACK_HMAC_ALGORITHMS); sha256 and sha512 by default. */
  hmacAlgorithms?: readonly HubAlgorithm[];
  /** EVENT_MAX_FUTURE_SKEW_SECONDS; 300 by default. */
  maxFutureSkewSeconds?: number;
  /** INBOX_RETENTION_DAYS: older events are refused and handled ones pruned; 30 by default. */
  inboxRetentionDays?: number;
  /** How often the retention sweeper runs; hourly by default. */
  inboxSweepIntervalMs?: number;
  bodyLimit: string;
  /** The bytes all callback bodies being read may hold at once (then 503 `busy`). Default: BODIES_IN_FLIGHT_BYTES, or 8 bodies of the limit if more. */
  bodiesInFlightBytes?: number;
  /** Beside that bound, what sources that delivered a signed body lately may still hold (raw-body.ts). Default: a quarter of it, or 2 bodies. */
  bodiesReserveBytes?: number;
  /** Time to receive a callback body once its headers arrived (408 after it). Default WEB_TIMEOUTS_MS.body. */
  bodyTimeoutMs?: number;
  /** Time to receive a whole request (Node's requestTimeout). Default WEB_TIMEOUTS_MS.request. */
  requestTimeoutMs?: number;
  /** Time to receive a request's headers (Node's headersTimeout). Default WEB_TIMEOUTS_MS.headers. */
  headersTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this. Default WEB_TIMEOUTS_MS.keepAlive. */
  keepAliveTimeoutMs?: number;
  /** At shutdown, how long /readyz answers 503 while requests are still taken (WEB_SHUTDOWN_DELAY_SECONDS). Default 0. */
  shutdownDelayMs?: number;
  /** At shutdown, how long requests being answered may finish in. Default WEB_TIMEOUTS_MS.closeGrace. */
  closeGraceMs?: number;
  /** Depth and width limits of callback JSON bodies (DEFAULT_JSON_LIMITS). */
  jsonLimits?: Partial<JsonLimits>;
  /** Signed callback requests per minute from one source address (CALLBACK_RATE_LIMIT_PER_MINUTE); 0 or unset: no limit. */
  rateLimitPerMinute?: number;
  /** Callback requests refused before authentication per minute from one source (CALLBACK_FAILED_AUTH_PER_MINUTE); 0 or unset: no limit. */
  failedAuthPerMinute?: number;
  /** Bucket size of both limits; one minute's worth by default. */
  rateLimitBurst?: number;
  /** Which proxies' X-Forwarded-For is believed (TRUST_PROXY); nothing by default. */
  trustProxy?: TrustProxy;
  /** Address of the admin listener (/readyz, /metrics; ADMIN_HOST). Default 127.0.0.1. */
  adminHost?: string;
  /** Port of the admin listener (ADMIN_PORT). Default 0, a free port; the entry points pass ADMIN_PORT. */
  adminPort?: number;
  /** How long a readiness answer is reused. Default 1.5 s. */
  readinessCacheMs?: number;
  dispatchIntervalMs: number;
  /** How long the callback's hand-over waits for Temporal. Default HAND_OVER_TIMEOUT_MS.callback. */
  dispatchTimeoutMs?: number;
  taskQueue: string;
  workflowOptions?: Partial<InstallationOptions>;
  keyring: Keyring;
  store: Store;
  temporal: Client;
  logger: Logger;
  /** Sign-in from Talkdesk, the app's pages and user.logout (docs/launch.md); off when not given. */
  launch?: LaunchOptions;
  /**
   * Reconnects the store's client when it has failed `stuckAfterMs` while a new client (`pingFresh`)
   * reaches the store (WEB_STORE_STUCK_SECONDS; src/store/watchdog.ts); off when not given.
   */
  storeWatchdog?: { pingFresh(): Promise<void>; stuckAfterMs: number; everyMs?: number };
}

export interface RunningWebServer {
  url: string;
  callbackUrl: string;
  /** `http://<ADMIN_HOST>:<port>`: GET /readyz and GET /metrics. */
  adminUrl: string;
  server: Server;
  dispatcher: InboxDispatcher;
  close(): Promise<void>;
}

/** The web process's store watchdog: a client stuck while the store answers others is reconnected in place. */
function watchStoreClient(store: Store, o: NonNullable<WebServerOptions['storeWatchdog']>, logger: Logger) {
  return watchStore({
    ping: () => store.ping(),
    pingFresh: o.pingFresh,
    stuckAfterMs: o.stuckAfterMs,
    everyMs: o.everyMs ?? 5_000,
    logger,
    // No onStuck: the web process never stops itself, every verdict reconnects.
    reconnect: () => store.db.reconnect(),
  });
}

/** Starts the Koa callback server and the inbox dispatcher beside it. */
export async function startWebServer(o: WebServerOptions): Promise<RunningWebServer> {
  const schemes = o.signatureSchemes ?? DEFAULT_SIGNATURE_SCHEMES;
  if (schemes.length === 0) throw new ConfigError('At least one callback signature scheme must be enabled (CALLBACK_SIGNATURE_SCHEMES)');
  if (schemes.includes('ecdsa') && (o.ecdsaPublicKeys?.size ?? 0) === 0) {
    throw new ConfigError('The ecdsa signature scheme needs public keys (TALKDESK_ECDSA_PUBLIC_KEYS)');
  }
  if (o.skipSignatureCheck && process.env.NODE_ENV === 'production') {
    throw new ConfigError('DEV_SKIP_SIGNATURE_CHECK must not be true when NODE_ENV=production');
  }
  const retentionDays = o.inboxRetentionDays ?? 30;
  const requestTimeoutMs = o.requestTimeoutMs ?? WEB_TIMEOUTS_MS.request;
  const headersTimeoutMs = Math.min(o.headersTimeoutMs ?? WEB_TIMEOUTS_MS.headers, requestTimeoutMs);
  const metrics = createWebMetrics();
  const { dispatch, redispatch, dispatcher } = createWebHandOver(
    { client: o.temporal, taskQueue: o.taskQueue, workflowOptions: o.workflowOptions },
    { inbox: o.store.inbox, installations: o.store.installations, logger: o.logger },
    { intervalMs: o.dispatchIntervalMs, timeoutMs: o.dispatchTimeoutMs },
  );
  const launchArea = o.launch
    ? createLaunch({ ...o.launch, appId: o.appId, store: o.store, logger: o.logger, metrics, keyring: o.keyring, trustProxy: o.trustProxy })
    : undefined;
  const bodyLimitBytes = parseSize(o.bodyLimit);
  const timeLimits = eventTimeLimits(o.maxFutureSkewSeconds ?? 300, retentionDays); // the sweeper sets prunedBeforeMs
  const app = createApp({
    launchArea,
    launch: launchArea?.callbackHooks,
    appId: o.appId,
    webhookSecrets: o.webhookSecrets,
    skipSignatureCheck: o.skipSignatureCheck ?? false,
    signatureSchemes: schemes,
    ecdsaPublicKeys: o.ecdsaPublicKeys,
    hmacAlgorithms: o.hmacAlgorithms,
    eventTimeLimits: timeLimits,
    bodyLimitBytes,
    bodiesInFlight: bodiesInFlight(
      o.bodiesInFlightBytes ?? Math.max(BODIES_IN_FLIGHT_BYTES, 8 * bodyLimitBytes),
      bodyLimitBytes,
      o.bodiesReserveBytes,
    ),
    bodyTimeoutMs: o.bodyTimeoutMs ?? WEB_TIMEOUTS_MS.body,
    jsonLimits: o.jsonLimits,
    rateLimiter: new CallbackLimiter({
      signedPerMinute: o.rateLimitPerMinute,
      failedAuthPerMinute: o.failedAuthPerMinute,
      burst: o.rateLimitBurst,
      trustProxy: o.trustProxy,
    }),
    keyring: o.keyring,
    inbox: o.store.inbox,
    dispatch,
    redispatch,
    markLater: (eventId, mark) => dispatcher.markLater(eventId, mark),
    logger: o.logger,
    metrics,
  });
  let stopping = false;
  let closing: Promise<void> | undefined;
  const readiness = cachedReadiness(async () => {
    const [mongodb, temporal] = await Promise.all([
      // Bounded like Temporal's: a ping on a connection that never answers must not hold /readyz.
      withTimeout(o.store.ping(), WEB_TIMEOUTS_MS.readiness).then(
        () => true,
        () => false,
      ),
      o.temporal.connection
        // The namespace events are handed to, not only the server: a namespace missing, or refused to this
        // process's API key, cannot take a hand-over, so the web is not ready (getSystemInfo answers both).
        .withDeadline(Date.now() + WEB_TIMEOUTS_MS.readiness, () =>
          o.temporal.workflowService.describeNamespace({ namespace: o.temporal.options.namespace }),
        )
        .then(
          () => true,
          () => false,
        ),
    ]);
    return { mongodb, temporal };
  }, o.readinessCacheMs);
  const retention = new InboxRetention(o.store.db, retentionDays);
  const sweeper = new PeriodicTask(
    'inbox retention sweep',
    async () => {
      const { events, credentials, kept, gaveUp, prunedBefore } = await retention.sweep();
      timeLimits.prunedBeforeMs = plausiblePrunedBefore(prunedBefore);
      if (timeLimits.prunedBeforeMs === undefined)
        o.logger.warn({ prunedBefore }, 'inbox retention: inbox-pruned-before is in the future of any sweep (a clock ran ahead): ignored');
      if (events > 0 || credentials > 0)
        o.logger.info({ pruned: events, credentialsDeleted: credentials }, 'inbox retention: old handled events pruned');
      // Handed over past the window and not imported: its workflow is stalled (see InboxRetention).
      if (kept.length > 0)
        o.logger.warn({ eventIds: kept.slice(0, 20), count: kept.length }, 'inbox retention: credentials not imported yet kept');
      if (gaveUp.length > 0)
        o.logger.error({ eventIds: gaveUp.slice(0, 20), count: gaveUp.length }, 'inbox retention: credentials never imported deleted');
    },
    o.logger,
    o.inboxSweepIntervalMs ?? 3_600_000,
  );
  // A slow or endless client cannot hold a connection for long: Node answers 408 and
  // closes a connection whose headers or request are late, checked every second
  // (Node's default interval is 30 s, which would let a slow client stay that long).
  const server = http.createServer(
    {
      requestTimeout: requestTimeoutMs,
      headersTimeout: headersTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeoutMs / 2))),
    },
    app.callback(),
  );
  server.keepAliveTimeout = o.keepAliveTimeoutMs ?? WEB_TIMEOUTS_MS.keepAlive;
  hardenClientErrors(server);
  // Where a sweep (perhaps under a shorter INBOX_RETENTION_DAYS) pruned the inbox, before the first callback; a store
  // not answering yet leaves it to the sweeper's first run.
  timeLimits.prunedBeforeMs = plausiblePrunedBefore(await withTimeout(retention.prunedBefore(), 5_000).catch(() => undefined));
  await listenOn(server, o.port, o.host, { port: 'PORT', host: 'HOST' });
  let admin: RunningAdminServer;
  try {
    admin = await startAdminServer(o.adminHost ?? '127.0.0.1', o.adminPort ?? 0, {
      logger: o.logger,
      metrics,
      readiness,
      stopping: () => stopping,
      backlog: () => o.store.inbox.countUndispatched(),
    });
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
  dispatcher.start();
  sweeper.start();
  const watchdog = o.storeWatchdog && watchStoreClient(o.store, o.storeWatchdog, o.logger);
  const { port } = server.address() as AddressInfo;
  const url = listenerUrl(o.host, port);
  launchArea?.start(url);
  return {
    url,
    callbackUrl: `${url}${CALLBACK_PATH}`,
    adminUrl: admin.url,
    server,
    dispatcher,
    close() {
      // Once: a second call (a signal during shutdown) waits for the first.
      return (closing ??= (async () => {
        stopping = true;
        if (o.shutdownDelayMs) {
          o.logger.info(
            { delaySeconds: o.shutdownDelayMs / 1000 },
            'stopping: /readyz answers 503; still taking requests until the delay ends',
          );
          await new Promise((resolve) => setTimeout(resolve, o.shutdownDelayMs));
        }
        // The callback and launch routes first: what they answer now still gets its background work.
        await closeGracefully(server, o.closeGraceMs ?? WEB_TIMEOUTS_MS.closeGrace);
        // Side by side: each is bounded (the logout drain by PARTNER_HOOKS_TIMEOUT_MS + 10 s, the dispatcher 30 s, a sweep 10 s).
        await Promise.all([launchArea?.stop(), dispatcher.stop(), sweeper.stop()]);
        await watchdog?.stop();
        await admin.close();
      })());
    },
  };
}
