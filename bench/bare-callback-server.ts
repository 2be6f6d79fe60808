import { Client, Connection } from '@temporalio/client';
import Koa from 'koa';
import { parseEvent, toLifecycleEvent } from '../src/events/schemas';
import { HAND_OVER_TIMEOUT_MS, startInstallation } from '../src/handover/start';
import { readRawBody } from '../src/web/raw-body';
import { DEFAULT_SIGNATURE_SCHEMES, verifyCallbackSignature } from '../src/web/signature-schemes';

/**
 * The floor of the ingest figure (`dist/bench/bare-callback-server.js`): the callback's authentication,
 * validation and hand-over as the web process does them (the same signature check, event schema and
 * signal-with-start, with the same workflow input and event), in a process of its own like the web server,
 * with the durable part left out: no inbox, no credentials stored, no mark, no logs, no metrics. What the
 * service adds over it is the store's round trips. Its workflows go to TASK_QUEUE, which no worker polls.
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
const signature = { schemes: DEFAULT_SIGNATURE_SCHEMES, webhookSecrets: [env('WEBHOOK_SECRET')], ecdsaPublicKeys: new Map() };

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method !== 'POST' || ctx.path !== '/talkdesk/events') return ctx.throw(404);
  const raw = await readRawBody(ctx.req, 256 * 1024, 10_000);
  if (!verifyCallbackSignature(raw, ctx.req.headers, signature)) return ctx.throw(401, 'invalid signature');
  const parsed = parseEvent(JSON.parse(raw.toString('utf8')));
  if (!parsed.ok || parsed.event.app_id !== appId) return ctx.throw(400, 'invalid event');
  const event = toLifecycleEvent(parsed.event);
  await startInstallation(target, event, HAND_OVER_TIMEOUT_MS.callback);
  ctx.body = { status: 'accepted', eventId: parsed.event.id, dispatched: true };
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`bare callback server listening on ${typeof address === 'object' && address ? address.port : 0}`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
