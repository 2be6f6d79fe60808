import { randomBytes } from 'node:crypto';
import { bundleWorkflowCode, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { generateKeySpec, parseKeyring, type Keyring } from '../../src/crypto/secrets';
import { connectDatabase, createStore, pingWithNewClient, type Store } from '../../src/store';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { startSimulator, type Simulator } from '../../src/simulator';
import { startWebServer, type RunningWebServer, type WebServerOptions } from '../../src/web/server';
import { DEFAULT_LAUNCH_SETTINGS, type LaunchSettings } from '../../src/sso/settings';
import type { LaunchOptions, UserLogoutHook } from '../../src/web/launch';
import { createAppWorker, WORKFLOWS_PATH, type WorkerTuning } from '../../src/worker/create-worker';
import type { InstallationOptions } from '../../workflows/options';
import type { Logger } from '../../src/logging/logger';
import type { PartnerProvisioner } from '../../src/partner/provisioner';
import { captureLogger } from './logs';
import { mongoUri, temporalDevEnv, uniqueDbName } from './servers';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, built once per test run. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return bundle;
}
const noop = () => undefined;
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

/** Fast settings: the workflow's minutes and days stay days on the dev server, retries are quick. */
export const FAST_OPTIONS: Partial<InstallationOptions> = {
  retryInitialMs: 200,
  retryMaxMs: 2_000,
  orderingGraceMs: 2_000,
  activityTimeoutMs: 10_000,
  heartbeatingActivityTimeoutMs: 30_000,
  heartbeatTimeoutMs: 5_000,
};

export const APP_ID = 'app0123456789abcdef';
export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

export interface TestSystem {
  client: Client;
  store: Store;
  keyring: Keyring;
  simulator: Simulator;
  web: RunningWebServer;
  /** The store the web server uses: `store` unless `webMongoUri` gave it a connection of its own. */
  webStore: Store;
  taskQueue: string;
  workerProcessEnv: Record<string, string>;
  logLines: string[];
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The whole system on real servers: the shared Temporal dev server and FerretDB,
 * a database and task queue of its own, a worker, the web server and the simulator.
 */
export interface SystemOptions {
  workflowOptions?: Partial<InstallationOptions>;
  client?: Client;
  /** Another Temporal environment (the time-skipping server); the shared dev server by default. */
  env?: TestWorkflowEnvironment;
  /** false: no worker in this process (tests that run and kill worker processes). */
  inProcessWorker?: boolean;
  /** The web server's own MongoDB connection to the same database (e.g. through a proxy); the worker keeps the direct one. */
  webMongoUri?: string;
  /**
   * With `webMongoUri`, the web's store watchdog (WEB_STORE_STUCK_SECONDS): a new client on that URI decides;
   * stuck after 3 s, checked every 500 ms, by default; `false`: none.
   */
  webStoreWatchdog?: { stuckAfterMs: number; everyMs: number } | false;
  /** The web server's Temporal client (e.g. through a proxy); `client` (the worker's server) by default. */
  webClient?: Client;
  /** The partner provisioner the worker uses (built from the system's store); the built-in MongoDB one by default. */
  partner?: (store: Store, logger: Logger) => PartnerProvisioner;
  /** The in-process worker's settings over the service defaults (e.g. a small workflow cache). */
  workerTuning?: WorkerTuning;
  /** The in-process worker's WORKER_SHUTDOWN_GRACE_SECONDS, in ms (0 by default: the SDK's, tests stop at once). */
  workerShutdownGraceMs?: number;
  /** Serve the launch area (sign-in, /app, user.logout) with these settings over the defaults; off when not given. */
  launch?: Partial<LaunchSettings> & {
    onUserLogout?: UserLogoutHook;
    logoutForwardTiming?: LaunchOptions['logoutForwardTiming'];
    failedSignInsPerMinute?: number;
    licensedReadReuseMs?: number;
    logoutBackstop?: LaunchOptions['logoutBackstop'];
  };
  /** The web's WEB_SHUTDOWN_DELAY_SECONDS, in ms (0 by default). */
  webShutdownDelayMs?: number;
  /** The callback's signed budget (CALLBACK_RATE_LIMIT_PER_MINUTE and its bucket size); none by default. */
  webRateLimit?: { perMinute: number; burst?: number };
  /** The simulator revokes the app's credentials once an uninstall is acknowledged (off by default, as Talkdesk documents nothing). */
  revokeOnUninstall?: boolean;
  /** What the simulator shows for an open update or uninstall: `pending` (default) or the launch guide's prose names. */
  openStateNames?: 'pending' | 'prose';
  /** How long a new installation's scopes answer 401 at the simulator, in seconds (0 by default). */
  scopeActivationSeconds?: number;
  /** The simulator's token endpoint answers a new client 401 invalid_client this long (tokenScopeActivationSeconds). */
  tokenScopeActivationSeconds?: number;
  /** More Talkdesk hosts the service may call (e.g. `npm run demo`'s own simulator) besides the system's simulator. */
  talkdeskAllowedHosts?: string[];
}

function webStoreWatchdog(opts: SystemOptions, dbName: string): Pick<WebServerOptions, 'storeWatchdog'> {
  const uri = opts.webMongoUri;
  if (!uri || opts.webStoreWatchdog === false) return {};
  const timing = opts.webStoreWatchdog ?? { stuckAfterMs: 3_000, everyMs: 500 };
  return { storeWatchdog: { pingFresh: () => pingWithNewClient(uri, dbName), ...timing } };
}

export async function startSystem(opts: SystemOptions = {}): Promise<TestSystem> {
  const env = opts.env ?? (await temporalDevEnv());
  const client = opts.client ?? env.client;
  const uri = await mongoUri();
  const dbName = uniqueDbName('sys');
  const keySpec = generateKeySpec('test1');
  const db = await connectDatabase(uri, dbName);
  const keyring = parseKeyring(keySpec);
  const store = createStore(db, keyring);
  await store.ensureIndexes();
  const webDb = opts.webMongoUri ? await connectDatabase(opts.webMongoUri, dbName) : undefined;
  const webStore = webDb ? createStore(webDb, keyring) : store;
  const { logger, lines } = captureLogger();
  const taskQueue = `q-${randomBytes(4).toString('hex')}`;
  const simulator = await startSimulator({
    appId: APP_ID,
    webhookSecret: WEBHOOK_SECRET,
    retryDelaysMs: [500, 1000],
    revokeOnUninstall: opts.revokeOnUninstall,
    openStateNames: opts.openStateNames,
    scopeActivationSeconds: opts.scopeActivationSeconds,
    tokenScopeActivationSeconds: opts.tokenScopeActivationSeconds,
  });
  const talkdesk = new TalkdeskClient({
    allowedHosts: [`127.0.0.1:${simulator.port}`, ...(opts.talkdeskAllowedHosts ?? [])],
    timeoutMs: 3_000,
  });
  const workflowOptions = { ...FAST_OPTIONS, ...opts.workflowOptions };
  const partner = opts.partner?.(store, logger);
  const makeWorker = async () =>
    createAppWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      deps: { store, talkdesk, logger, temporal: { client, taskQueue, workflowOptions } },
      ...(partner ? { partner } : {}),
      ...(opts.workerTuning ? { tuning: opts.workerTuning } : {}),
      ...(opts.workerShutdownGraceMs ? { shutdownGraceMs: opts.workerShutdownGraceMs } : {}),
      workflowBundle: await workflowBundle(),
    });
  let worker: Worker | undefined = opts.inProcessWorker === false ? undefined : await makeWorker();
  let running: Promise<void> = worker ? worker.run() : Promise.resolve();
  const web = await startWebServer({
    host: '127.0.0.1',
    port: 0,
    appId: APP_ID,
    webhookSecrets: [WEBHOOK_SECRET],
    bodyLimit: '64kb',
    dispatchIntervalMs: 300,
    taskQueue,
    workflowOptions,
    keyring,
    store: webStore,
    temporal: opts.webClient ?? client,
    logger,
    ...webStoreWatchdog(opts, dbName),
    ...(opts.webShutdownDelayMs ? { shutdownDelayMs: opts.webShutdownDelayMs } : {}),
    ...(opts.webRateLimit ? { rateLimitPerMinute: opts.webRateLimit.perMinute, rateLimitBurst: opts.webRateLimit.burst } : {}),
    ...(opts.launch
      ? {
          launch: {
            settings: { ...DEFAULT_LAUNCH_SETTINGS, ...opts.launch },
            talkdesk,
            onUserLogout: opts.launch.onUserLogout,
            logoutForwardTiming: opts.launch.logoutForwardTiming,
            failedSignInsPerMinute: opts.launch.failedSignInsPerMinute,
            licensedReadReuseMs: opts.launch.licensedReadReuseMs,
            logoutBackstop: opts.launch.logoutBackstop,
          },
        }
      : {}),
  });
  // The redirect URL a partner registers for the app version (docs/launch.md): the simulator then refuses
  // any other, so a sign-in that sends another is caught (the service derives its own, this does not).
  if (opts.launch) simulator.registerRedirectUri(`${opts.launch.appBaseUrl ?? web.url}/sso/callback`);
  const system: TestSystem = {
    client,
    store,
    keyring,
    simulator,
    web,
    webStore,
    /** Environment for a worker process (`node dist/src/entry/worker.js`) on this system's queue and database. */
    workerProcessEnv: {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: env.namespace ?? 'default',
      TEMPORAL_TASK_QUEUE: taskQueue,
      MONGODB_URI: uri,
      MONGODB_DB: dbName,
      SECRETS_KEY: keySpec,
      TALKDESK_APP_ID: APP_ID,
      TALKDESK_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TALKDESK_ALLOWED_HOSTS: `127.0.0.1:${simulator.port}`,
      TALKDESK_HTTP_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'info',
      // Several worker processes may run at once: no fixed metrics port unless a test asks.
      WORKER_METRICS_BIND: '',
      RECONCILE_ENABLED: 'false',
    },
    taskQueue,
    logLines: lines,
    async stopWorker() {
      if (worker?.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
    async startWorker() {
      worker = await makeWorker();
      running = worker.run();
    },
    async close() {
      await web.close();
      await system.stopWorker();
      await simulator.stop();
      await webDb?.client.close(true).catch(() => undefined);
      await db.db.dropDatabase().catch(() => undefined);
      await db.close();
    },
  };
  return system;
}

/**
 * The usual suite hooks: the whole system starts before the suite's tests and
 * closes after them (`beforeClose` first, say to kill worker processes the suite
 * started). `use` receives the system, so the suite keeps a plain `sys` variable.
 */
export function useSystem(
  use: (sys: TestSystem) => void,
  opts: SystemOptions = {},
  beforeClose?: () => Promise<unknown> | undefined,
): void {
  let sys: TestSystem | undefined;
  before(async () => {
    sys = await startSystem(opts);
    use(sys);
  });
  after(async () => {
    await beforeClose?.();
    await sys?.close();
  });
}

export function randomSecretKeySpec(): string {
  return `k:${randomBytes(32).toString('base64')}`;
}
