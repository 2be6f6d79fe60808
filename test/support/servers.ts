import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { startFerretDBOnFreePort, type LocalMongo } from '../../src/local/ferretdb';
import { startTemporalDevServerOnFreePorts } from '../../src/local/temporal-dev';
import { toolPath } from '../../src/local/tools';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { settledWithin } from './waits';

/**
 * Servers shared by the whole test run, started on first use on free loopback
 * ports and stopped by the root hook at the end. Nothing is left running.
 */
let devEnv: Promise<TestWorkflowEnvironment> | undefined;
let mongo: Promise<{ uri: string; local?: LocalMongo; dir?: string }> | undefined;
const cleanups: (() => Promise<void>)[] = [];
let serversRefused: string | undefined;

/** `npm run test:unit`: any test asking for the dev server or FerretDB fails, naming the run that forbids it. */
export function refuseServers(why: string): void {
  serversRefused = why;
}
function refuseIfAsked(server: string): void {
  if (serversRefused) throw new Error(`this test needs ${server}, which ${serversRefused}: move it out of the unit list`);
}

export function temporalDevEnv(): Promise<TestWorkflowEnvironment> {
  refuseIfAsked('the Temporal dev server');
  devEnv ??= (async () => {
    const dev = await startDevEnv(false);
    cleanups.push(() => dev.teardown());
    return dev.env;
  })();
  return devEnv;
}

/** A dev server with its Web UI, owned (and torn down) by the test that starts it. */
export interface TemporalUiEnv {
  env: TestWorkflowEnvironment;
  /** The Web UI's base address, e.g. http://127.0.0.1:PORT */
  uiUrl: string;
  /** Closes the connections and stops the server. */
  teardown(): Promise<void>;
}

/** A fresh dev server with the Web UI on a free loopback port and the project's search attributes. */
export function temporalDevEnvWithUi(): Promise<TemporalUiEnv> {
  refuseIfAsked('the Temporal dev server');
  return startDevEnv(true);
}

/**
 * A fresh dev server (no UI) with server dynamic config values, e.g. a history length at which
 * it suggests continue-as-new; owned (and torn down) by the test that starts it.
 */
export function temporalDevEnvWithConfig(dynamicConfig: Record<string, string | number | boolean>): Promise<TemporalUiEnv> {
  refuseIfAsked('the Temporal dev server');
  return startDevEnv(false, dynamicConfig);
}

/**
 * `temporal server start-dev` (in memory) started by the project's own launcher,
 * which waits up to a minute for it: the SDK's ephemeral-server helper gives up
 * after 5 s, which a loaded CI machine can exceed.
 */
async function startDevEnv(withUi: boolean, dynamicConfig?: Record<string, string | number | boolean>): Promise<TemporalUiEnv> {
  const { server } = await startTemporalDevServerOnFreePorts({ withUi, namespace: 'default', ...(dynamicConfig ? { dynamicConfig } : {}) });
  try {
    const env = await connectWhenHealthy(server.address);
    return {
      env,
      uiUrl: server.uiUrl,
      teardown: async () => {
        await env.teardown().catch(() => undefined);
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * The port opens before the frontend is healthy ("Frontend is not healthy yet"):
 * connect again until it answers and knows the namespace, for up to a minute.
 */
async function connectWhenHealthy(address: string, timeoutMs = 60_000): Promise<TestWorkflowEnvironment> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const env = await TestWorkflowEnvironment.createFromExistingServer({ address, namespace: 'default' });
      try {
        await env.connection.workflowService.describeNamespace({ namespace: 'default' });
        return env;
      } catch (err) {
        await env.teardown().catch(() => undefined);
        throw err;
      }
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Runs `cleanup` at the end of the run, before the servers started so far stop (a worker before its server). */
export function beforeServersStop(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

let sharedTimeSkipping: Promise<{ env: TestWorkflowEnvironment; stop: () => Promise<void> }> | undefined;
/**
 * One time-skipping server shared by the workflow tests of a run (each test owns
 * its workflow and task queue); stopped by the root hook like the others.
 */
export async function sharedTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  sharedTimeSkipping ??= (async () => {
    const env = await timeSkippingEnv();
    const stop = once(() => env.teardown());
    cleanups.push(stop);
    return { env, stop };
  })();
  // A start that failed is tried again by the next suite, not kept for every suite after it.
  const starting = sharedTimeSkipping;
  starting.catch(() => sharedTimeSkipping === starting && (sharedTimeSkipping = undefined));
  return (await starting).env;
}

/** Stops the shared time-skipping server (what uses it stopped first); the next `sharedTimeSkippingEnv()` starts another. */
export async function dropSharedTimeSkippingEnv(): Promise<void> {
  const old = sharedTimeSkipping;
  sharedTimeSkipping = undefined;
  await (await old?.catch(() => undefined))?.stop();
}

/** `fn` run at most once: a cleanup that may also have run before the end of the run. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let ran: Promise<void> | undefined;
  return () => (ran ??= fn().catch((e: unknown) => console.error('cleanup failed', e)));
}

/** A fresh time-skipping server: each test that needs days to pass owns one. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await createTimeSkipping();
  try {
    await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  } catch (err) {
    await env.teardown(); // a failed set-up must not leave the server running
    throw err;
  }
  return env;
}

/**
 * The SDK starts the test server itself and gives up after a fixed 5 s; on a
 * loaded machine that start can miss, so a start that timed out is tried again.
 * (Only the time-skipping server needs the SDK's launcher: it alone knows the
 * environment supports time skipping.)
 */
async function createTimeSkipping(attempts = 3): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
      });
    } catch (err) {
      if (attempt >= attempts || !/did not start within/.test(String(err))) throw err;
    }
  }
}

/** MongoDB wire-protocol server: MONGODB_URI when set, else a FerretDB of our own. */
export function mongoUri(): Promise<string> {
  refuseIfAsked('MongoDB (FerretDB)');
  mongo ??= (async () => {
    if (process.env.MONGODB_URI) return { uri: process.env.MONGODB_URI };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'appconnect-ferret-'));
    const local = await startFerretDBOnFreePort({ dataDir: dir });
    cleanups.push(async () => {
      await local.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    return { uri: local.uri, local, dir };
  })();
  return mongo.then((m) => m.uri);
}

/** The FerretDB process, for tests that stop and restart it. */
export async function localMongo(): Promise<LocalMongo | undefined> {
  await mongoUri();
  return (await mongo)?.local;
}

let dbCounter = 0;
/** A database name no other test uses, so tests stay independent. */
export function uniqueDbName(prefix = 't'): string {
  dbCounter += 1;
  return `${prefix}_${process.pid}_${dbCounter}_${Date.now().toString(36)}`;
}

export async function stopAllServers(): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    // Each bounded, so that one that hangs (a worker that never drains) cannot keep the others' servers running.
    const ended = await settledWithin(
      cleanup().catch((e: unknown) => console.error('cleanup failed', e)),
      20_000,
    );
    if (!ended) console.error('cleanup did not end within 20 s');
  }
  cleanups.length = 0;
  devEnv = undefined;
  mongo = undefined;
  sharedTimeSkipping = undefined;
}
