import { Client, Connection } from '@temporalio/client';
import Koa from 'koa';
import { MongoClient } from 'mongodb';
import { parseKeyring } from '../src/crypto/secrets';
import { extractCredentials, parseEvent, toLifecycleEvent } from '../src/events/schemas';
import { HAND_OVER_TIMEOUT_MS, startInstallation } from '../src/handover/start';
import { sealEventCredentials } from '../src/store/event-credentials';
import { checkEventTime } from '../src/web/event-time';
import { checkJsonShape, findUnsafeJson } from '../src/web/json-limits';
import { readRawBody } from '../src/web/raw-body';
import { DEFAULT_SIGNATURE_SCHEMES, verifyCallbackSignature } from '../src/web/signature-schemes';
import { FLOOR_INBOX } from './system-config';

/**
 * The floor of the ingest figure (`dist/bench/bare-callback-server.js`): the callback's authentication,
 * validation and hand-over as the web process does them (the same signature check, JSON limits, event
 * schema and time check, and signal-with-start with the same workflow input and event), in a process of
 * its own like the web server, with the durable part left out: no inbox, no credentials sealed or stored,
 * no mark. Also left out, each cheap: the per-event log line, metrics, rate limits. What the service adds
 * over it is mostly the store's round trips. Its workflows go to TASK_QUEUE, which no worker polls; the
 * bench terminates them after its run.
 *
 * With STORE_URI (and STORE_DB, SECRETS_KEY) it is the durable floor instead: before the hand-over, one
 * insert of the event's record with its credentials sealed in it, the least a callback that stores the
 * event before it answers can write (nothing read first, no mark after).
 */
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const appId = env('APP_ID');
const target = {
  client: new Client({ connection: Connection.lazy({ address: env('TEMPORAL_ADDRESS') }), namespace: env('TEMPORAL_NAMESPACE') }),
  taskQueue: env('TASK_QUEUE'),
};
const mongo = process.env.STORE_URI ? new MongoClient(process.env.STORE_URI) : undefined;
const store = mongo
  ? {
      records: mongo.db(env('STORE_DB')).collection<Record<string, unknown> & { _id: string }>(FLOOR_INBOX),
      keyring: parseKeyring(env('SECRETS_KEY')),
    }
  : undefined;
const signature = { schemes: DEFAULT_SIGNATURE_SCHEMES, webhookSecrets: [env('WEBHOOK_SECRET')], ecdsaPublicKeys: new Map() };

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method !== 'POST' || ctx.path !== '/talkdesk/events') return ctx.throw(404);
  const raw = await readRawBody(ctx.req, 256 * 1024, 10_000);
  if (ctx.request.type !== 'application/json') return ctx.throw(415);
  if (!verifyCallbackSignature(raw, ctx.req.headers, signature)) return ctx.throw(401, 'invalid signature');
  if (checkJsonShape(raw)) return ctx.throw(400, 'json too complex');
  const json: unknown = JSON.parse(raw.toString('utf8'));
  const parsed = parseEvent(json);
  if (!parsed.ok || findUnsafeJson(json) || parsed.event.app_id !== appId) return ctx.throw(400, 'invalid event');
  if (checkEventTime(parsed.event.created_at, Date.now())) return ctx.throw(400, 'event too old or too new');
  const event = toLifecycleEvent(parsed.event);
  if (store) {
    const credentials = extractCredentials(parsed.event);
    await store.records.insertOne({
      _id: parsed.event.id,
      installationId: event.installationId,
      type: parsed.event.type,
      createdAt: new Date(parsed.event.created_at),
      receivedAt: new Date(),
      event,
      ...(credentials ? { credentials: sealEventCredentials(store.keyring, event.installationId, credentials) } : {}),
    });
  }
  await startInstallation(target, event, HAND_OVER_TIMEOUT_MS.callback);
  ctx.body = { status: 'accepted', eventId: parsed.event.id, dispatched: true };
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`bare callback server listening on ${typeof address === 'object' && address ? address.port : 0}`);
});
process.once('SIGTERM', () => server.close(() => void Promise.resolve(mongo?.close()).finally(() => process.exit(0))));
