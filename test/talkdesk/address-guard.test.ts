import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { needsDnsGuard } from '../../src/talkdesk/dns-guard';
import { DisallowedHostError } from '../../src/talkdesk/errors';
import { isNonPublicAddress } from '../../src/talkdesk/ip';
import { sendJson, startStub, type Stub } from './stub';

/**
 * Outbound address guard (issue 15): the non-public address table, and the DNS
 * guard applied to every host name, exactly listed ones included, except IP
 * literals and loopback names.
 */

const TOKEN = 'a-token-for-the-guard-test-000000';

describe('talkdesk: outbound address guard', function () {
  this.timeout(30_000);

  describe('non-public addresses (table)', () => {
    const nonPublic: [string, string][] = [
      ['0.0.0.0', 'this network'],
      ['10.1.2.3', 'private'],
      ['100.64.0.1', 'carrier-grade NAT'],
      ['127.0.0.1', 'loopback'],
      ['169.254.169.254', 'link-local (cloud metadata)'],
      ['172.16.0.1', 'private'],
      ['192.0.0.8', 'IETF protocol assignments 192.0.0.0/24'],
      ['192.0.2.1', 'documentation'],
      ['192.168.1.1', 'private'],
      ['198.18.0.1', 'benchmarking 198.18.0.0/15'],
      ['198.19.255.254', 'benchmarking 198.18.0.0/15'],
      ['224.0.0.1', 'multicast'],
      ['239.255.255.250', 'multicast'],
      ['240.0.0.1', 'reserved 240.0.0.0/4'],
      ['255.255.255.255', 'broadcast'],
      ['::', 'unspecified'],
      ['::1', 'loopback'],
      ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
      ['::ffff:10.0.0.1', 'IPv4-mapped private'],
      ['::127.0.0.1', 'IPv4-compatible'],
      ['::a9fe:a9fe', 'IPv4-compatible metadata address'],
      ['64:ff9b::7f00:1', 'NAT64 64:ff9b::/96'],
      ['64:ff9b::a9fe:a9fe', 'NAT64 to the metadata address'],
      ['2002:7f00:1::', '6to4 2002::/16'],
      ['2001::1', 'Teredo'],
      ['2001:db8::1', 'documentation'],
      ['fc00::1', 'unique local'],
      ['fd12:3456::1', 'unique local'],
      ['fe80::1', 'link-local'],
      ['fec0::1', 'site-local fec0::/10'],
      ['ff02::1', 'multicast'],
      ['[::1]', 'bracketed loopback'],
    ];
    for (const [address, why] of nonPublic) {
      it(`${address} is not public (${why})`, () => assert.equal(isNonPublicAddress(address), true));
    }
    const publicOnes = ['8.8.8.8', '93.184.216.34', '1.1.1.1', '2606:4700::1111', '2a00:1450:4001::200e', '[2606:4700::1111]'];
    for (const address of publicOnes) {
      it(`${address} is public`, () => assert.equal(isNonPublicAddress(address), false));
    }
    it('a name is not an address', () => {
      for (const name of ['localhost', 'api.talkdeskapp.com', '', '0x7f.1']) assert.equal(isNonPublicAddress(name), false, name);
    });
  });

  describe('which hosts are resolved through the guard', () => {
    it('every name but IP literals and loopback names', () => {
      for (const host of ['api.talkdeskapp.com', 'starship.talkdeskid.com', 'internal']) assert.equal(needsDnsGuard(host), true, host);
      for (const host of ['127.0.0.1', '[::1]', '10.0.0.1', 'localhost', 'sim.localhost']) assert.equal(needsDnsGuard(host), false, host);
    });
  });

  describe('through the client', () => {
    let trap: net.Server;
    let trapPort: number;
    let connections = 0;
    let stub: Stub;
    before(async () => {
      trap = net.createServer((socket) => {
        connections += 1;
        socket.destroy();
      });
      await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', () => resolve()));
      trapPort = (trap.address() as AddressInfo).port;
      stub = await startStub((_req, res) => sendJson(res, 200, { id: 'acc-1', name: 'n', company_name: 'c', timezone: 'UTC' }));
    });
    after(async () => {
      await new Promise<void>((resolve) => trap.close(() => resolve()));
      await stub.close();
    });

    it('refuses an exactly listed name that resolves to a private address, without connecting', async () => {
      const resolved: string[] = [];
      const client = new TalkdeskClient({
        allowedHosts: [`api.partner-mirror.test:${trapPort}`],
        timeoutMs: 2_000,
        resolver: (host, cb) => {
          resolved.push(host);
          cb(null, [{ address: '127.0.0.1', family: 4 }]);
        },
      });
      const before = connections;
      const err = await client.getAccount(`https://api.partner-mirror.test:${trapPort}`, TOKEN).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof DisallowedHostError, `DisallowedHostError, got ${String(err)}`);
      assert.deepEqual(resolved, ['api.partner-mirror.test'], 'the exact name went through the guard');
      assert.equal(connections, before, 'no connection was made');
    });

    it('does not resolve an exactly listed loopback name or IP literal through the guard (local simulator)', async () => {
      const resolved: string[] = [];
      const port = new URL(stub.origin).port;
      const client = new TalkdeskClient({
        allowedHosts: [stub.host, `localhost:${port}`],
        timeoutMs: 2_000,
        resolver: (host, cb) => {
          resolved.push(host);
          cb(null, [{ address: '127.0.0.1', family: 4 }]);
        },
      });
      assert.equal((await client.getAccount(stub.origin, TOKEN)).id, 'acc-1');
      assert.equal((await client.getAccount(`http://localhost:${port}`, TOKEN)).id, 'acc-1');
      assert.deepEqual(resolved, []);
    });
  });
});
