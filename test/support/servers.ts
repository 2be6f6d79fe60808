import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { startFerretDB, type LocalMongo } from '../../src/local/ferretdb';
import { freePort } from '../../src/local/process';
import { toolPath } from '../../src/local/tools';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

/**
 * Servers shared by the whole test run, started on first use on free loopback
 * ports and stopped by the root hook at the end. Nothing is left running.
 */
let devEnv: Promise<TestWorkflowEnvironment> | undefined;
let mongo: Promise<{ uri: string; local?: LocalMongo; dir?: string }> | undefined;
const cleanups: (() => Promise<void>)[] = [];

export function temporalDevEnv(): Promise<TestWorkflowEnvironment> {
  devEnv ??= (async () => {
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: toolPath('temporal') },
        ip: '127.0.0.1',
        port: await freePort(),
        searchAttributes: ALL_SEARCH_ATTRIBUTES,
        log: { format: 'pretty', level: 'error' },
      },
    });
    cleanups.push(() => env.teardown());
    return env;
  })();
  return devEnv;
}

/** A dev server with its Web UI, owned (and torn down) by the test that starts it. */
export interface TemporalUiEnv {
  env: TestWorkflowEnvironment;
  /** The Web UI's base address, e.g. http://127.0.0.1:PORT */
  uiUrl: string;
}

/** A fresh dev server with the Web UI on a free loopback port and the project's search attributes. */
export async function temporalDevEnvWithUi(): Promise<TemporalUiEnv> {
  const uiPort = await freePort();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPath('temporal') },
      ip: '127.0.0.1',
      port: await freePort(),
      ui: true,
      uiPort,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
      // Loopback only, and no newsfeed fetched from the internet.
      extraArgs: ['--ui-ip', '127.0.0.1', '--ui-disable-news-fetch'],
    },
  });
  return { env, uiUrl: `http://127.0.0.1:${uiPort}` };
}

/** A fresh time-skipping server: each test that needs days to pass owns one. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
  });
  try {
    await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  } catch (err) {
    await env.teardown(); // a failed set-up must not leave the server running
    throw err;
  }
  return env;
}

/** MongoDB wire-protocol server: MONGODB_URI when set, else a FerretDB of our own. */
export function mongoUri(): Promise<string> {
  mongo ??= (async () => {
    if (process.env.MONGODB_URI) return { uri: process.env.MONGODB_URI };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'appconnect-ferret-'));
    const local = await startFerretDB({ port: await freePort(), dataDir: dir });
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
    await cleanup().catch((e: unknown) => console.error('cleanup failed', e));
  }
  cleanups.length = 0;
  devEnv = undefined;
  mongo = undefined;
}
