import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { DEFAULT_CALLBACK_BODY_LIMIT, loadEnv } from '../../src/config/env';
import { ConfigError } from '../../src/errors';
import { exampleEvent } from '../../src/events/examples';
import { generateKeySpec, parseKeyring, type Keyring } from '../../src/crypto/secrets';
import { connectDatabase, createStore, COLLECTIONS, type Database, type Store } from '../../src/store';
import { startWebServer, type RunningWebServer, type WebServerOptions } from '../../src/web/server';
import type { EventType } from '../../workflows/definitions';
import { postCallback, type CallbackAnswer } from '../support/callback-client';
import { captureLogger } from '../support/logs';
import { mongoUri, temporalDevEnv, uniqueDbName } from '../support/servers';
import { APP_ID, WEBHOOK_SECRET } from '../support/system';

/**
 * A web server on loopback with a real store (FerretDB, a database of its own) and
 * the shared Temporal dev server, but no worker and no simulator: lighter than
 * startSystem for tests of the callback's own defences.
 */
export interface LightWeb {
  web: RunningWebServer;
  store: Store;
  db: Database;
  keyring: Keyring;
  logLines: string[];
  taskQueue: string;
  inboxCount(): Promise<number>;
  close(): Promise<void>;
}

/** The suite hooks for one light web server: started before the suite's tests, closed after them; `use` receives it. */
export function useLightWeb(use: (web: LightWeb) => void, options: Partial<WebServerOptions> = {}): void {
  let web: LightWeb | undefined;
  before(async () => {
    web = await startLightWeb(options);
    use(web);
  });
  after(async () => web?.close());
}

export async function startLightWeb(
  options: Partial<WebServerOptions> = {},
  where: { dbName?: string; keySpec?: string } = {},
): Promise<LightWeb> {
  const env = await temporalDevEnv();
  const db = await connectDatabase(await mongoUri(), where.dbName ?? uniqueDbName('sec'));
  const keyring = parseKeyring(where.keySpec ?? generateKeySpec('sec1'));
  const store = createStore(db, keyring);
  await store.ensureIndexes();
  const { logger, lines } = captureLogger('web');
  const taskQueue = `sec-${randomBytes(4).toString('hex')}`;
  const web = await startWebServer({
    host: '127.0.0.1',
    port: 0,
    appId: APP_ID,
    webhookSecrets: [WEBHOOK_SECRET],
    bodyLimit: DEFAULT_CALLBACK_BODY_LIMIT,
    dispatchIntervalMs: 60_000,
    taskQueue,
    keyring,
    store,
    temporal: env.client,
    logger,
    ...options,
  });
  return {
    web,
    store,
    db,
    keyring,
    logLines: lines,
    taskQueue,
    inboxCount: () => db.collection(COLLECTIONS.inbox).countDocuments(),
    async close() {
      await web.close();
      if (!where.dbName) await db.db.dropDatabase().catch(() => undefined);
      await db.close();
    },
  };
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A valid event of `type` for APP_ID, with fresh event and installation ids. */
export function freshEvent(type: EventType = 'app.uninstalled'): Record<string, unknown> & { id: string; data: Record<string, unknown> } {
  const event = exampleEvent(type) as Record<string, unknown> & { id: string; data: Record<string, unknown> };
  event.id = hex(16);
  event.app_id = APP_ID;
  event.data.installation_id = hex(16);
  event.created_at = new Date(Date.now() - 1_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return event;
}

export type Answer = CallbackAnswer;

export interface SendOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  agent?: http.Agent;
  localAddress?: string;
  timeoutMs?: number;
}

/** One request to a test web server with exactly the headers given (no signature or content-type added). */
export function send(baseUrl: string, body: Buffer | string | undefined, opts: SendOptions = {}): Promise<Answer> {
  const { path, ...rest } = opts;
  return postCallback(new URL(path ?? '/talkdesk/events', baseUrl).toString(), body, { ...rest, signature: null, contentType: null });
}

export const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** The variables every configuration needs; each test adds the ones it checks. */
export const BASE_ENV = { TALKDESK_APP_ID: APP_ID, TALKDESK_WEBHOOK_SECRET: WEBHOOK_SECRET, SECRETS_KEY: generateKeySpec('k1') };

/** The message of the ConfigError loadEnv throws for BASE_ENV plus `env` (a failure names the variables, never their values). */
export function configError(env: Record<string, string>): string {
  try {
    loadEnv({ ...BASE_ENV, ...env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify(Object.keys(env))}`);
}
