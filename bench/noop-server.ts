import Router from '@koa/router';
import Koa from 'koa';

/**
 * The no-op reference of the ingest figure (`dist/bench/noop-server.js`): a Koa route
 * that reads the body and answers 200, in a process of its own like the web server.
 */
const app = new Koa();
const router = new Router();
router.post('/noop', async (ctx) => {
  for await (const _chunk of ctx.req) {
    // read and drop the body, as the callback reads it
  }
  ctx.body = { status: 'ok' };
});
app.use(router.routes());
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`noop server listening on ${typeof address === 'object' && address ? address.port : '?'}`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
