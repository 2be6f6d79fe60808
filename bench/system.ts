import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { generateKeySpec, parseKeyring } from '../src/crypto/secrets';
import { startFerretDB, startFerretDBOnFreePort, type LocalMongo } from '../src/local/ferretdb';
import { freePort, waitForPort } from '../src/local/process';
import { startTemporalDevServer, startTemporalDevServerOnFreePorts, type LocalTemporal } from '../src/local/temporal-dev';
import { PROJECT_ROOT } from '../src/local/tools';
import { createLogger } from '../src/logging/logger';
import { startSimulator } from '../src/simulator';
import { connectDatabase, createStore, pingWithNewClient } from '../src/store';
import { watchStore } from '../src/store/watchdog';
import { startWebServer, type RunningWebServer } from '../src/web/server';
import { tuningToEnv } from './options';
import { adopt, spawnNode, type NodeChild } from './processes';
import { serviceWorkerPool } from './service-workers';
import {
  APP_ID,
  LOCAL_DB_NAME,
  NAMESPACE,
  WEBHOOK_SECRET,
  serviceEnvironment,
  type BenchSystem,
  type BenchSystemOptions,
} from './system-config';

export { APP_ID, WEBHOOK_SECRET } from './system-config';
export type { BenchSystem, BenchSystemOptions, ServiceWorker } from './system-config';

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
    const temporalDir = path.join(dir, 'temporal');
    const started = await startTemporalDevServerOnFreePorts({ withUi: true, dataDir: temporalDir, namespace: NAMESPACE });
    let temporal: LocalTemporal | undefined = started.server;
    // A restart keeps the ports: clients hold the address.
    const temporalPorts = { port: started.port, uiPort: started.uiPort };
    adopt(temporal.process.child);
    stops.push(async () => temporal?.stop());
    const address = temporal.address;

    const mongoDir = path.join(dir, 'ferretdb');
    let mongo: LocalMongo | undefined;
    let mongoUri = opts.mongoUri ?? '';
    // Picked again when taken before FerretDB bound it (retryBindClash); a restart keeps it.
    let mongoPort = 0;
    if (!opts.mongoUri) {
      mongo = await startFerretDBOnFreePort({ dataDir: mongoDir });
      mongoPort = mongo.port;
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
    // The bench's own reads (the soak's waiter and checks) go through this client. The driver's monitor can stay stuck after a
    // FerretDB restart (src/store/watchdog.ts), which blinded a soak while the service ran on: reconnected in place as the web's.
    const benchLog = path.join(logsDir, 'bench.log');
    logFiles.push(benchLog);
    const benchLogStream = createWriteStream(benchLog, { flags: 'a' });
    const storeWatch = watchStore({
      ping: () => store.ping(),
      pingFresh: () => pingWithNewClient(mongoUri, DB_NAME),
      stuckAfterMs: 10_000,
      everyMs: 2_000,
      logger: createLogger({ level: opts.logLevel ?? 'info', name: 'bench' }, benchLogStream),
      reconnect: () => db.reconnect(),
    });
    stops.push(async () => {
      await storeWatch.stop();
      if (opts.mongoUri) await db.db.dropDatabase();
      await db.close();
      await new Promise<void>((resolve) => benchLogStream.end(() => resolve()));
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
    const serviceEnv = serviceEnvironment(opts, {
      temporalAddress: address,
      taskQueue,
      mongoUri,
      dbName: DB_NAME,
      secretsKey: keySpec,
      simulatorPort: simulator.port,
    });
    const workerEnv = { ...serviceEnv, ...tuningEnv };

    let web: BenchSystem['web'];
    if (opts.web === 'process') {
      const adminPort = await freePort();
      const file = path.join(logsDir, 'web.log');
      logFiles.push(file);
      const proc = spawnNode(
        'web',
        path.join(PROJECT_ROOT, 'dist/src/entry/web.js'),
        {
          ...serviceEnv,
          PORT: String(webPort),
          HOST: '127.0.0.1',
          ADMIN_PORT: String(adminPort),
          // Required in production (launch): the bench signs no one in, but the web process checks them at start.
          APP_BASE_URL: `http://127.0.0.1:${webPort}`,
          SUPPORT_CONTACT: 'bench run',
          DISPATCH_INTERVAL_MS: String(opts.dispatchIntervalMs ?? 5_000),
        },
        file,
      );
      stops.push(() => proc.stop());
      await proc.waitFor('web server listening', 30_000);
      web = { url: `http://127.0.0.1:${webPort}`, callbackUrl, adminUrl: `http://127.0.0.1:${adminPort}`, pid: proc.pid };
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
        // As WEB_STORE_STUCK_SECONDS in systemEnv does for a web process of its own.
        storeWatchdog: { pingFresh: () => pingWithNewClient(mongoUri, DB_NAME), stuckAfterMs: 10_000 },
      });
      stops.push(async () => {
        await running.close();
        await webClient.connection.close();
        await webDb.close();
        await new Promise<void>((resolve) => stream.end(() => resolve()));
      });
      web = { url: running.url, callbackUrl, adminUrl: running.adminUrl, pid: process.pid };
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

    const pool = serviceWorkerPool({
      opts,
      logsDir,
      logFiles,
      address,
      taskQueue,
      store,
      client,
      simulatorPort: simulator.port,
      workerEnv,
      logLevel,
    });
    const { workers, startWorker } = pool;
    stops.push(() => pool.stop());
    if (opts.startWorkers !== false) {
      // A worker that found Temporal unreachable as it started (refused once, on a loaded machine, right after the
      // port answered) is started once more when the port answers again; Temporal gone for good still fails here.
      const startReady = () =>
        startWorker().catch(async (err: unknown) => {
          if (!/cannot be reached/.test(String(err))) throw err;
          process.stderr.write(`[started again] ${String(err).split('\n')[0]}\n`);
          await waitForPort(temporalPorts.port, '127.0.0.1', 30_000);
          return startWorker();
        });
      await Promise.all(Array.from({ length: Math.max(1, opts.workerProcesses) }, startReady));
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
