import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { keepAliveAgent } from '../../bench/load';
import { eventually } from '../support/waits';

/** The bench's keep-alive agent closes an idle socket before the server would (no "socket hang up" race). */
describe('bench: the load keep-alive agent', () => {
  it('closes a socket idle longer than idleMs itself, and reuses one that is not', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    server.keepAliveTimeout = 60_000; // the server would keep it: only the agent closes it here
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const agent = keepAliveAgent(2, 300);
    const get = () =>
      new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, agent, path: '/' }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
      });
    const free = () => Object.values(agent.freeSockets).flat().length;
    try {
      await get();
      await eventually('the socket kept for reuse', async () => (free() === 1 ? true : undefined), 2_000);
      await get(); // reused at once
      assert.equal(Object.values(agent.sockets).flat().length + free(), 1, 'one socket for both requests');
      await eventually('the idle socket closed by the agent', async () => (free() === 0 ? true : undefined), 5_000);
    } finally {
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
