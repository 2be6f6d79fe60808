import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import Koa from 'koa';
import { TalkdeskClient } from '../src/talkdesk/client';
import type { SignInTarget } from './launch';

/**
 * The floor of the launch figure (`dist/bench/bare-sign-in-server.js`): the same browser sign-in as the
 * web process's (GET /launch → 302 to Talkdesk's authorize → /sso/callback, which exchanges the code with
 * the same client assertion and reads /users/me → 303 → the /app page), in a process of its own like the
 * web server, with everything else left out: no store, no sealed state, no licence, no logs; states and
 * sessions in memory. A minimal implementation of this flow on the same stack (Koa, the same Talkdesk client).
 * The bench posts its sign-in targets (POST /targets) before the first launch.
 */
const SIMULATOR = process.env.SIMULATOR_URL ?? '';
const talkdesk = new TalkdeskClient({ allowedHosts: [new URL(SIMULATOR).host], timeoutMs: 30_000 });
const targets = new Map<string, SignInTarget>();
const states = new Map<string, string>();
const sessions = new Map<string, string>();
const id = () => randomBytes(18).toString('base64url');

const app = new Koa();
const router = new Router();
let base = '';

router.post('/targets', async (ctx) => {
  let text = '';
  for await (const chunk of ctx.req) text += String(chunk);
  for (const t of JSON.parse(text) as SignInTarget[]) targets.set(t.id, t);
  ctx.body = { targets: targets.size };
});

router.get('/launch', (ctx) => {
  const t = targets.get(String(ctx.query.talkdesk_installation_id));
  if (!t) return ctx.throw(404, 'unknown installation');
  const state = id();
  states.set(state, t.id);
  const authorize = new URL(t.authorizeUrl);
  authorize.searchParams.set('client_id', t.clientId);
  authorize.searchParams.set('redirect_uri', `${base}/sso/callback`);
  authorize.searchParams.set('response_type', 'code');
  authorize.searchParams.set('scope', 'openid');
  authorize.searchParams.set('state', state);
  ctx.cookies.set('bare_state', state, { httpOnly: true, sameSite: 'lax', path: '/sso/callback' });
  ctx.redirect(authorize.href);
});

router.get('/sso/callback', async (ctx) => {
  const state = String(ctx.query.state);
  const installationId = states.get(state);
  states.delete(state);
  const t = installationId ? targets.get(installationId) : undefined;
  if (!t || ctx.cookies.get('bare_state') !== state) return ctx.throw(400, 'bad state');
  const { accessToken } = await talkdesk.exchangeAuthorizationCode({
    tokenUrl: t.tokenUrl,
    clientId: t.clientId,
    code: String(ctx.query.code),
    redirectUri: `${base}/sso/callback`,
    auth: { method: 'private_key_jwt', keyId: t.keyId, algorithm: t.algorithm, privateKey: t.privateKey },
  });
  const me = await talkdesk.getUserInfo(`${SIMULATOR}/users/me`, accessToken);
  const session = id();
  sessions.set(session, me.name ?? me.id ?? me.sub ?? '');
  ctx.cookies.set('bare_session', session, { httpOnly: true, sameSite: 'lax' });
  ctx.status = 303;
  ctx.redirect('/app');
});

router.get('/app', (ctx) => {
  const who = sessions.get(ctx.cookies.get('bare_session') ?? '');
  if (who === undefined) return ctx.throw(401, 'no session');
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = `<!doctype html><title>App</title><p>Signed in as ${who.replace(/[<>&"]/g, '')}</p>`;
});

app.use(router.routes());
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  base = `http://127.0.0.1:${port}`;
  console.log(`bare sign-in server listening on ${port}`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
