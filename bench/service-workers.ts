import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../src/local/tools';
import { createLogger } from '../src/logging/logger';
import type { Store } from '../src/store';
import { TalkdeskClient } from '../src/talkdesk/client';
import { WORKER_HEAP_FLAG } from '../src/worker/cache-budget';
import { createAppWorker } from '../src/worker/create-worker';
import { spawnNode } from './processes';
import { NAMESPACE, type BenchSystemOptions, type ServiceWorker } from './system-config';

/** What the service's workers need from the run. */
export interface WorkerPoolContext {
  opts: BenchSystemOptions;
  logsDir: string;
  /** The run's list of service log files; each worker adds its own. */
  logFiles: string[];
  address: string;
  taskQueue: string;
  store: Store;
  client: Client;
  simulatorPort: number;
  workerEnv: Record<string, string>;
  logLevel: string;
}

export interface WorkerPool {
  workers: ServiceWorker[];
  /** Starts one more worker of the service (a process, or the in-process one). */
  startWorker(): Promise<ServiceWorker>;
  /** Stops every worker still running. */
  stop(): Promise<void>;
}

/** The service's workers of a bench run: processes (`dist/src/entry/worker.js`), or one in this process. */
export function serviceWorkerPool(ctx: WorkerPoolContext): WorkerPool {
  const { opts, logsDir, logFiles, address, taskQueue, store, client, workerEnv, logLevel } = ctx;
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
          talkdesk: new TalkdeskClient({ allowedHosts: [`127.0.0.1:${ctx.simulatorPort}`], timeoutMs: opts.talkdeskTimeoutMs ?? 10_000 }),
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
        // Gone from the list as a process's handle is when it exits: the figures count only the workers running.
        const i = workers.indexOf(handle);
        if (i >= 0) workers.splice(i, 1);
      };
      const handle: ServiceWorker = { id, pid: process.pid, ready: true, kill: stop, stop };
      workers.push(handle);
      return handle;
    }
    const file = path.join(logsDir, `worker-${id}.log`);
    logFiles.push(file);
    // An experiment's V8 flags for the service worker alone (e.g. a heap limit), not the bench's own process.
    const nodeOptions = process.env.BENCH_WORKER_NODE_OPTIONS;
    const env = nodeOptions ? { ...workerEnv, NODE_OPTIONS: nodeOptions } : workerEnv;
    const proc = spawnNode(`worker-${id}`, path.join(PROJECT_ROOT, 'dist/src/entry/worker.js'), env, file, workerHeapFlags());
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
  const stop = async () => {
    for (const w of [...workers]) await w.stop();
  };
  return { workers, startWorker, stop };
}

/**
 * The worker processes' heap flag: production's (package.json start:worker), unless BENCH_WORKER_NODE_OPTIONS sets a
 * heap limit of its own (a command-line flag would override it).
 */
function workerHeapFlags(): string[] {
  return process.env.BENCH_WORKER_NODE_OPTIONS?.includes('--max-old-space-size') ? [] : [WORKER_HEAP_FLAG];
}

/** The worker processes' V8 flags, for the results: the heap flag and BENCH_WORKER_NODE_OPTIONS. */
export function workerNodeFlags(): string {
  return [...workerHeapFlags(), process.env.BENCH_WORKER_NODE_OPTIONS ?? ''].join(' ').trim();
}
