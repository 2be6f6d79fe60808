import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { generateKeySpec, parseKeyring } from '../src/crypto/secrets';
import { startFerretDB, type LocalMongo } from '../src/local/ferretdb';
import { freePort } from '../src/local/process';
import { startTemporalDevServer, type LocalTemporal } from '../src/local/temporal-dev';
import { PROJECT_ROOT } from '../src/local/tools';
import { createLogger } from '../src/logging/logger';
import { startSimulator, type Simulator } from '../src/simulator';
import { connectDatabase, createStore, type Store } from '../src/store';
import { TalkdeskClient } from '../src/talkdesk/client';
import { startWebServer, type RunningWebServer } from '../src/web/server';
import { createAppWorker, type WorkerTuning } from '../src/worker/create-worker';
import type { InstallationOptions } from '../workflows/options';
import { tuningToEnv } from './options';
import { adopt, spawnNode, type NodeChild } from './processes';

export const APP_ID = 'benchapp0123456789';
export const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
const NAMESPACE = 'default';
const LOCAL_DB_NAME = 'appconnect';

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
  web: { url: string; callbackUrl: string; pid: number };
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

/** A Temporal client that reconnects within a second after the server comes back. */
function lazyClient(address: string): Client {
  const connection = Connection.lazy({
    address,
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1_000 },
  });
  return new Client({ connection, namespace: NAMESPACE });
}

/**
 * The real local servers on free loopback ports: the Temporal dev server (its state in
 * a file under a temp dir, so it can be restarted), FerretDB, the Talkdesk simulator
 * (callbackUrl set), the web server and the service's workers; everything is stopped
 * by stop(), and every child process is killed if this process exits first.
 */
export async function startBenchSystem(opts: BenchSystemOptions): Promise<BenchSystem> {
  const dir = mkdtempSync(path.join(opts.stateDir ?? os.tmpdir(), 'appconnect-bench-'));
  const logsDir = path.join(dir, 'logs');
  mkdirSync(logsDir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  // If this process exits without stop() (a signal, a crash), the children are killed (processes.ts) and the files go.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((e: unknown) => console.error('bench: stop failed:', e));
    stops.length = 0;
    removeDir();
    process.off('exit', removeDir);
  };
  try {
    return await start();
  } catch (err) {
    await stopAll();
    throw err;
  }

  async function start(): Promise<BenchSystem> {
    const logFiles: string[] = [];
    const temporalPorts = { port: await freePort(), uiPort: await freePort() };
    const temporalDir = path.join(dir, 'temporal');
    let temporal: LocalTemporal | undefined = await startTemporalDevServer({
      ...temporalPorts,
      dataDir: temporalDir,
      namespace: NAMESPACE,
    });
    adopt(temporal.process.child);
    stops.push(async () => temporal?.stop());
    const address = temporal.address;

    const mongoPort = await freePort();
    const mongoDir = path.join(dir, 'ferretdb');
    let mongo: LocalMongo | undefined;
    let mongoUri = opts.mongoUri ?? '';
    if (!opts.mongoUri) {
      mongo = await startFerretDB({ port: mongoPort, dataDir: mongoDir });
      adopt(mongo.process.child);
      stops.push(async () => mongo?.stop());
      mongoUri = mongo.uri;
    }
    const DB_NAME = opts.mongoUri ? `appconnect_bench_${Date.now().toString(36)}` : LOCAL_DB_NAME;

    const keySpec = generateKeySpec('bench1');
    const keyring = parseKeyring(keySpec);
    const db = await connectDatabase(mongoUri, DB_NAME);
    const store = createStore(db, keyring);
    await store.ensureIndexes();
    stops.push(async () => {
      if (opts.mongoUri) await db.db.dropDatabase();
      await db.close();
    });

    const client = lazyClient(address);
    stops.push(() => client.connection.close());

    const webPort = await freePort();
    const callbackUrl = `http://127.0.0.1:${webPort}/talkdesk/events`;
    const simulator = await startSimulator({
      appId: APP_ID,
      webhookSecret: WEBHOOK_SECRET,
      callbackUrl,
      retryDelaysMs: opts.simulatorRetryDelaysMs ?? [2_000, 5_000],
      deliveryTimeoutMs: opts.deliveryTimeoutMs ?? 10_000,
    });
    stops.push(() => simulator.stop());

    const suffix = randomBytes(3).toString('hex');
    const taskQueue = `appconnect-${suffix}`;
    const benchTaskQueue = `bench-${suffix}`;
    const logLevel = opts.logLevel ?? 'info';
    const tuningEnv = tuningToEnv(opts.tuning);
    const serviceEnv: Record<string, string> = {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: NAMESPACE,
      TEMPORAL_TASK_QUEUE: taskQueue,
      MONGODB_URI: mongoUri,
      MONGODB_DB: DB_NAME,
      SECRETS_KEY: keySpec,
      TALKDESK_APP_ID: APP_ID,
      TALKDESK_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TALKDESK_ALLOWED_HOSTS: `127.0.0.1:${simulator.port}`,
      TALKDESK_HTTP_TIMEOUT_MS: String(opts.talkdeskTimeoutMs ?? 10_000),
      LOG_LEVEL: logLevel,
      NODE_ENV: 'production',
      // One source (the simulator, the bench) sends every callback: no per-source limit.
      CALLBACK_RATE_LIMIT_PER_MINUTE: '0',
      // Several worker processes on one host: no fixed metrics port. Reconciliation runs only when the bench asks.
      WORKER_METRICS_BIND: '',
      RECONCILE_ENABLED: 'false',
    };
    const workerEnv = { ...serviceEnv, ...tuningEnv };

    let web: BenchSystem['web'];
    if (opts.web === 'process') {
      const file = path.join(logsDir, 'web.log');
      logFiles.push(file);
      const proc = spawnNode(
        'web',
        path.join(PROJECT_ROOT, 'dist/src/entry/web.js'),
        {
          ...serviceEnv,
          PORT: String(webPort),
          HOST: '127.0.0.1',
          ADMIN_PORT: '0',
          // Production refuses to start without them (launch pages): the bench's own address and a placeholder.
          APP_BASE_URL: `http://127.0.0.1:${webPort}`,
          SUPPORT_CONTACT: 'bench@example.invalid',
          DISPATCH_INTERVAL_MS: String(opts.dispatchIntervalMs ?? 5_000),
        },
        file,
      );
      stops.push(() => proc.stop());
      await proc.waitFor('web server listening', 30_000);
      web = { url: `http://127.0.0.1:${webPort}`, callbackUrl, pid: proc.pid };
    } else {
      const file = path.join(logsDir, 'web.log');
      logFiles.push(file);
      const stream = createWriteStream(file, { flags: 'a' });
      const logger = createLogger({ level: logLevel, name: 'web' }, stream);
      const webDb = await connectDatabase(mongoUri, DB_NAME);
      const webClient = lazyClient(address);
      const running: RunningWebServer = await startWebServer({
        host: '127.0.0.1',
        port: webPort,
        appId: APP_ID,
        webhookSecrets: [WEBHOOK_SECRET],
        bodyLimit: '256kb',
        dispatchIntervalMs: opts.dispatchIntervalMs ?? 1_000,
        taskQueue,
        workflowOptions: opts.workflowOptions,
        keyring,
        store: createStore(webDb, keyring),
        temporal: webClient,
        logger,
      });
      stops.push(async () => {
        await running.close();
        await webClient.connection.close();
        await webDb.close();
        await new Promise<void>((resolve) => stream.end(() => resolve()));
      });
      web = { url: running.url, callbackUrl, pid: process.pid };
    }

    let noop: BenchSystem['noop'];
    if (opts.noopServer) {
      const port = await freePort();
      const proc = spawnNode('noop', path.join(PROJECT_ROOT, 'dist/bench/noop-server.js'), { PORT: String(port) });
      stops.push(() => proc.stop());
      await proc.waitFor('noop server listening', 30_000);
      noop = { url: `http://127.0.0.1:${port}/noop`, pid: proc.pid };
    }

    let benchWorker: NodeChild | undefined;
    const startBenchWorker = async (): Promise<NodeChild> => {
      if (benchWorker?.alive()) return benchWorker;
      const proc = spawnNode('bench-worker', path.join(PROJECT_ROOT, 'dist/bench/bench-worker.js'), {
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: NAMESPACE,
        BENCH_TASK_QUEUE: benchTaskQueue,
        ...tuningEnv,
      });
      benchWorker = proc;
      await proc.waitFor('bench worker running', 60_000);
      return proc;
    };
    stops.push(async () => benchWorker?.stop());
    if (opts.benchWorker) await startBenchWorker();

    const workers: ServiceWorker[] = [];
    let nextWorkerId = 1;
    let inProcess: { worker: Worker; running: Promise<void>; connection: NativeConnection } | undefined;
    const startWorker = async (): Promise<ServiceWorker> => {
      const id = nextWorkerId++;
      if (opts.workerProcesses === 0) {
        if (inProcess) throw new Error('the in-process worker is already running');
        const file = path.join(logsDir, `worker-${id}.log`);
        logFiles.push(file);
        const stream = createWriteStream(file, { flags: 'a' });
        const logger = createLogger({ level: logLevel, name: 'worker' }, stream);
        const connection = await NativeConnection.connect({ address });
        const worker = await createAppWorker({
          connection,
          namespace: NAMESPACE,
          taskQueue,
          deps: {
            store,
            talkdesk: new TalkdeskClient({ allowedHosts: [`127.0.0.1:${simulator.port}`], timeoutMs: opts.talkdeskTimeoutMs ?? 10_000 }),
            logger,
            temporal: { client, taskQueue },
          },
          tuning: opts.tuning,
        });
        const current = { worker, running: worker.run(), connection };
        inProcess = current;
        const stop = async () => {
          if (current.worker.getState() === 'RUNNING') current.worker.shutdown();
          await current.running.catch(() => undefined);
          await current.connection.close().catch(() => undefined);
          await new Promise<void>((resolve) => stream.end(() => resolve()));
          if (inProcess === current) inProcess = undefined;
        };
        const handle: ServiceWorker = { id, pid: process.pid, ready: true, kill: stop, stop };
        workers.push(handle);
        return handle;
      }
      const file = path.join(logsDir, `worker-${id}.log`);
      logFiles.push(file);
      const proc = spawnNode(`worker-${id}`, path.join(PROJECT_ROOT, 'dist/src/entry/worker.js'), workerEnv, file);
      const handle: ServiceWorker = { id, process: proc, pid: proc.pid, ready: false, kill: () => proc.kill(), stop: () => proc.stop() };
      workers.push(handle);
      void proc.exited.then(() => {
        const i = workers.indexOf(handle);
        if (i >= 0) workers.splice(i, 1);
      });
      await proc.waitFor('worker running', 120_000);
      handle.ready = true;
      return handle;
    };
    stops.push(async () => {
      for (const w of [...workers]) await w.stop();
    });
    if (opts.startWorkers !== false) {
      await Promise.all(Array.from({ length: Math.max(1, opts.workerProcesses) }, () => startWorker()));
    }

    return {
      dir,
      logsDir,
      taskQueue,
      benchTaskQueue,
      simulator,
      client,
      store,
      temporal: {
        address,
        pid: () => temporal?.process.child.pid,
        async restart(downMs = 1_000) {
          await temporal?.stop();
          temporal = undefined;
          await new Promise((r) => setTimeout(r, downMs));
          temporal = await startTemporalDevServer({ ...temporalPorts, dataDir: temporalDir, namespace: NAMESPACE });
          adopt(temporal.process.child);
        },
      },
      mongo: {
        uri: mongoUri,
        pid: () => mongo?.process.child.pid,
        async restart(downMs = 1_000) {
          if (opts.mongoUri) throw new Error('an external MongoDB (BENCH_MONGODB_URI) cannot be restarted by the bench');
          await mongo?.stop();
          mongo = undefined;
          await new Promise((r) => setTimeout(r, downMs));
          mongo = await startFerretDB({ port: mongoPort, dataDir: mongoDir });
          adopt(mongo.process.child);
        },
      },
      web,
      noop,
      get benchWorker() {
        return benchWorker;
      },
      startBenchWorker,
      workers,
      startWorker,
      workerEnv,
      logFiles: () => [...logFiles],
      stop: stopAll,
    };
  }
}
