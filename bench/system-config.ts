import type { Client } from '@temporalio/client';
import type { Simulator } from '../src/simulator';
import type { Store } from '../src/store';
import type { WorkerTuning } from '../src/worker/create-worker';
import type { InstallationOptions } from '../workflows/options';
import type { NodeChild } from './processes';

export const APP_ID = 'benchapp0123456789';
export const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
export const NAMESPACE = 'default';
export const LOCAL_DB_NAME = 'appconnect';

/** How a bench or soak run wants the system. */
export interface BenchSystemOptions {
  /** Worker processes (`dist/src/entry/worker.js`); 0 runs one worker in this process. */
  workerProcesses: number;
  /** Start the service's workers at once (default true); the bench starts them after the ingest figure. */
  startWorkers?: boolean;
  tuning: WorkerTuning;
  /** `process`: the production entry `dist/src/entry/web.js`; `in-process`: startWebServer here (workflowOptions, captured logs). */
  web: 'process' | 'in-process';
  /** Workflow tunables the in-process web server passes in each workflow's input. */
  workflowOptions?: Partial<InstallationOptions>;
  dispatchIntervalMs?: number;
  talkdeskTimeoutMs?: number;
  simulatorRetryDelaysMs?: [number, number];
  deliveryTimeoutMs?: number;
  /** Start the worker of the reference workflows (bench/workflows.ts, a process) at once. */
  benchWorker?: boolean;
  /** The no-op Koa route as a process. */
  noopServer?: boolean;
  logLevel?: string;
  /** Parent of the run's state directory (default the OS temp dir): where the dev server's and FerretDB's files live. */
  stateDir?: string;
  /**
   * A MongoDB of the user's own instead of the embedded FerretDB (BENCH_MONGODB_URI).
   * The run uses a database of its own there and drops it at the end; it cannot
   * be restarted, so the soak does not take it.
   */
  mongoUri?: string;
}

export interface ServiceWorker {
  id: number;
  /** Undefined for the in-process worker. */
  process?: NodeChild;
  pid: number;
  /** It has printed "worker running" (or is the in-process worker). */
  ready: boolean;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface BenchSystem {
  dir: string;
  logsDir: string;
  taskQueue: string;
  benchTaskQueue: string;
  simulator: Simulator;
  client: Client;
  /** A MongoDB connection of the bench's own, to the service's database. */
  store: Store;
  temporal: { address: string; pid(): number | undefined; restart(downMs?: number): Promise<void> };
  mongo: { uri: string; pid(): number | undefined; restart(downMs?: number): Promise<void> };
  /** `adminUrl`: the web process's admin listener (`/metrics`). */
  web: { url: string; callbackUrl: string; adminUrl: string; pid: number };
  noop?: { url: string; pid: number };
  readonly benchWorker?: NodeChild;
  /** Starts the worker of the reference workflows (a process), if it is not running. */
  startBenchWorker(): Promise<NodeChild>;
  workers: ServiceWorker[];
  /** Starts one more worker of the service (a process, or the in-process one). */
  startWorker(): Promise<ServiceWorker>;
  /** Environment of a service worker process. */
  workerEnv: Record<string, string>;
  /** Log files of the service's processes (web and workers). */
  logFiles(): string[];
  stop(): Promise<void>;
}

/** Where the service's processes find the run's servers. */
export interface ServiceEndpoints {
  temporalAddress: string;
  taskQueue: string;
  mongoUri: string;
  dbName: string;
  secretsKey: string;
  simulatorPort: number;
}

/** The environment of the service's web and worker processes in a bench or soak run. */
export function serviceEnvironment(opts: BenchSystemOptions, at: ServiceEndpoints): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: at.temporalAddress,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TEMPORAL_TASK_QUEUE: at.taskQueue,
    MONGODB_URI: at.mongoUri,
    MONGODB_DB: at.dbName,
    SECRETS_KEY: at.secretsKey,
    TALKDESK_APP_ID: APP_ID,
    TALKDESK_WEBHOOK_SECRET: WEBHOOK_SECRET,
    TALKDESK_ALLOWED_HOSTS: `127.0.0.1:${at.simulatorPort}`,
    TALKDESK_HTTP_TIMEOUT_MS: String(opts.talkdeskTimeoutMs ?? 10_000),
    LOG_LEVEL: opts.logLevel ?? 'info',
    NODE_ENV: 'production',
    // One source (the simulator, the bench) sends every callback: no per-source limit.
    CALLBACK_RATE_LIMIT_PER_MINUTE: '0',
    // Several worker processes on one host: no fixed metrics port. Reconciliation runs only when the bench asks.
    WORKER_METRICS_BIND: '',
    RECONCILE_ENABLED: 'false',
    // A worker stuck without its store is replaced, a web process's client reconnected, well within a short soak's drive time.
    WORKER_STORE_STUCK_SECONDS: '15',
    WEB_STORE_STUCK_SECONDS: '10',
  };
}

/** The durable floor's records (bench/bare-callback-server.ts), in the service's database; dropped after each run. */
export const FLOOR_INBOX = 'bench_floor_inbox';
