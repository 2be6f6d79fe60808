import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../src/errors';
import { closeGracefully, listenerUrl, listenOn } from '../../src/web/listen';

/** fetch's failure for a connection refused or cut before an answer (never an HTTP status, nor another error). */
const refusedOrCut = (what: string) => (e: unknown) => {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  assert.ok(
    e instanceof TypeError && /ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET|other side closed/.test(`${cause?.code} ${cause?.message}`),
    `${what}: ${String(cause?.code ?? e)}`,
  );
  return true;
};

/** A server whose listen fails with `code`, as Node's does. */
function failingServer(code: string): http.Server {
  const s = new EventEmitter() as unknown as http.Server;
  (s as unknown as { listen: () => void }).listen = () => {
    queueMicrotask(() => s.emit('error', Object.assign(new Error(`listen ${code}`), { code })));
  };
  return s;
}

describe('web: listening and closing (src/web/listen.ts)', function () {
  this.timeout(20_000);

  it('a privileged port is not reported as held by another process', async () => {
    const setting = { port: 'PORT', host: 'HOST' };
    await assert.rejects(listenOn(failingServer('EACCES'), 80, '0.0.0.0', setting), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^PORT=80: this process may not listen on 0\.0\.0\.0:80 \(EACCES: ports below 1024 need privileges\)/);
      assert.doesNotMatch(e.message, /holds it/);
      return true;
    });
    await assert.rejects(listenOn(failingServer('EADDRINUSE'), 3000, '0.0.0.0', setting), /EADDRINUSE: another process holds it/);
  });

  it("a listener's URL brackets an IPv6 host, so the callback and launch URLs built on it parse", () => {
    for (const [host, url] of <[string, string][]>[
      ['::', 'http://[::]:3000'],
      ['::1', 'http://[::1]:3000'],
      ['[::]', 'http://[::]:3000'],
      ['127.0.0.1', 'http://127.0.0.1:3000'],
      ['localhost', 'http://localhost:3000'],
    ]) {
      assert.equal(listenerUrl(host, 3000), url);
      assert.equal(new URL(`${listenerUrl(host, 3000)}/sso/callback`).port, '3000');
    }
  });

  /** A server whose requests wait for `release()`; `started` resolves when one arrived. */
  async function slowServer() {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const started = new Promise<void>((r) => (arrived = r));
    const server = http.createServer((req, res) => {
      if (req.url === '/slow') {
        arrived();
        void released.then(() => res.end('done'));
      } else res.end('fast');
    });
    // Longer than the test's timeout: a close that waited for it would fail the test (no clock asserted).
    server.keepAliveTimeout = 60_000;
    await listenOn(server, 0, '127.0.0.1', { port: 'PORT', host: 'HOST' });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { server, url, release, started };
  }

  it('a request being answered at close gets its answer; new connections are refused; an idle keep-alive connection does not hold it', async () => {
    const { server, url, release, started } = await slowServer();
    const agent = new http.Agent({ keepAlive: true });
    // An idle keep-alive connection, as a load balancer leaves open.
    await fetch(`${url}/fast`);
    await new Promise<void>((resolve) => http.get(`${url}/fast`, { agent }, (r) => r.resume().on('end', resolve)));
    const slow = fetch(`${url}/slow`).then(async (r) => ({ status: r.status, body: await r.text() }));
    await started;
    let closed = false;
    // A grace longer than the test's timeout too: closing must end with the answer, not with either wait.
    const closing = closeGracefully(server, 60_000).then(() => (closed = true));
    await assert.rejects(fetch(`${url}/fast`), refusedOrCut('a new connection is refused while closing'));
    assert.equal(closed, false, 'the request being answered holds the close');
    release();
    assert.deepEqual(await slow, { status: 200, body: 'done' });
    await closing; // within the test's 20 s: closed once the answer was sent
    agent.destroy();
  });

  it('a request that outlasts the grace is cut, and the close returns', async () => {
    const { server, url, release, started } = await slowServer();
    const slow = fetch(`${url}/slow`);
    await started;
    const t0 = Date.now();
    await closeGracefully(server, 300);
    assert.ok(Date.now() - t0 >= 250, 'waited the grace');
    await assert.rejects(slow, refusedOrCut('cut: the client (Talkdesk) sees no answer and sends the event again'));
    release();
  });
});
