import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { signHubSignature } from '../../src/web/signature';
import { WEBHOOK_SECRET } from '../support/system';
import { eventually } from '../support/waits';
import { JSON_HEADERS, freshEvent, send, type LightWeb, useLightWeb } from './support';

const BUDGET = 64 * 1024;

/**
 * Bodies are read whole before their signature can be checked: the bytes all bodies being read hold at once are
 * bounded, so connections streaming large bodies cannot exhaust the web process's memory. Past the bound a body is
 * refused 503 `busy` (nothing kept, Talkdesk delivers again); the bound is given back as bodies finish or are cut.
 */
describe('security: the bytes of callback bodies being read are bounded', function () {
  this.timeout(60_000);
  let sys: LightWeb;
  // The bound alone (no reserve: its deliveries from this address would draw on it once one was signed; below).
  // A body timeout longer than any wait below: the held bytes come back because the client went, not by the timer.
  useLightWeb((w) => (sys = w), { bodiesInFlightBytes: BUDGET, bodiesReserveBytes: 0, bodyTimeoutMs: 45_000 });

  const deliver = () => {
    const raw = JSON.stringify(freshEvent());
    return send(sys.web.url, raw, { headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) } });
  };

  it('a body that would pass the bound while another holds it is refused 503 busy, nothing kept; once the other is cut, events are taken again', async () => {
    // An unsigned body announced at 200 kB (under CALLBACK_BODY_LIMIT), of which all but 100 bytes of the budget are sent, then held.
    const { port } = sys.web.server.address() as AddressInfo;
    const hog = net.connect(port, '127.0.0.1');
    hog.on('error', () => undefined);
    await new Promise<void>((resolve) => hog.once('connect', resolve));
    hog.write(`POST /talkdesk/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n`);
    hog.write(Buffer.alloc(BUDGET - 100, 0x20));
    try {
      const before = await sys.inboxCount();
      let accepted = 0;
      const busy = await eventually(
        'an event refused while the held body holds the budget',
        async () => {
          const a = await deliver();
          if (a.status === 200) accepted += 1; // the held body's bytes still on their way
          return a.status === 503 ? a : undefined;
        },
        20_000,
      );
      assert.equal(busy.json?.error?.code, 'busy', busy.text);
      assert.equal(busy.headers['retry-after'], '5');
      assert.equal(busy.headers.connection, 'close');
      assert.equal(await sys.inboxCount(), before + accepted, 'the refused event is not stored');
    } finally {
      hog.destroy();
    }
    // Its bytes are given back when the held body is cut: the client gone, long before the body timeout.
    const taken = await eventually(
      'an event taken once the held body is cut',
      async () => ((await deliver()).status === 200 ? true : undefined),
      10_000,
    );
    assert.ok(taken);
  });
});

/** One source address holds at most its share of the bound (an eighth, or two bodies of the limit): other sources' deliveries go on. */
describe('security: one source cannot hold the whole bound of callback bodies', function () {
  this.timeout(60_000);
  const SHARE = BUDGET / 8;
  let sys: LightWeb;
  useLightWeb((w) => (sys = w), {
    bodiesInFlightBytes: BUDGET,
    bodiesReserveBytes: SHARE,
    bodyLimit: `${SHARE / 2 / 1024}kb`,
    bodyTimeoutMs: 10_000,
    trustProxy: { kind: 'hops', hops: 1 },
  });

  const deliverFrom = (source: string) => {
    const raw = JSON.stringify(freshEvent());
    const headers = { ...JSON_HEADERS, 'x-forwarded-for': source, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) };
    return send(sys.web.url, raw, { headers });
  };

  /** A body announced at the body limit of which `bytes` are sent from `from`, then held. */
  async function holdBody(from: string, bytes: number): Promise<net.Socket> {
    const { port } = sys.web.server.address() as AddressInfo;
    const hog = net.connect(port, '127.0.0.1');
    hog.on('error', () => undefined);
    await new Promise<void>((resolve) => hog.once('connect', resolve));
    hog.write(
      `POST /talkdesk/events HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${from}\r\nContent-Type: application/json\r\nContent-Length: ${SHARE / 2}\r\n\r\n`,
    );
    hog.write(Buffer.alloc(bytes, 0x20));
    return hog;
  }

  const HELD = SHARE / 2 - 200;
  /** More held bodies than the whole bound could take, each just under the body limit, from `sources` in turn. */
  async function hold(sources: string[]): Promise<net.Socket[]> {
    const hogs: net.Socket[] = [];
    for (let i = 0; i < (2 * BUDGET) / (SHARE / 2); i += 1) hogs.push(await holdBody(sources[i % sources.length] ?? '', HELD));
    return hogs;
  }

  /** A delivery from `from` refused 503 busy once the held bodies are read: the share (or the bound) is held. */
  const refusedBusy = (from: string) =>
    eventually(
      `a delivery from ${from} refused once the held bodies hold their share`,
      async () => {
        const a = await deliverFrom(from);
        return a.status === 503 && a.json?.error?.code === 'busy' ? a : undefined;
      },
      20_000,
    );
  /**
   * The same from a new address at each attempt (`prefix` and a count): one taken before the held bodies hold the
   * bound (their bytes still on their way) would have proven its address, which the reserve then serves.
   */
  let fresh = 0;
  const newAddressRefusedBusy = (prefix: string) =>
    eventually(
      `a delivery from a new address of ${prefix}* refused once the held bodies hold the bound`,
      async () => {
        const a = await deliverFrom(`${prefix}${(fresh += 1)}`);
        return a.status === 503 && a.json?.error?.code === 'busy' ? a : undefined;
      },
      20_000,
    );

  it('bodies held from one address past its share are refused 503 busy, while another address is served', async () => {
    const hogs = await hold(['203.0.113.7']);
    try {
      await refusedBusy('203.0.113.7');
      const other = await deliverFrom('198.51.100.20');
      assert.equal(other.status, 200, `another address is served: ${other.text}`);
      assert.equal(other.json?.status, 'accepted');
    } finally {
      for (const hog of hogs) hog.destroy();
    }
  });

  it('IPv6 addresses of one /64 share one share (as the rate budgets key them)', async () => {
    // Nine addresses: each with a share of its own, together they would hold the whole bound.
    const hogs = await hold(Array.from({ length: 9 }, (_, i) => `2001:db8::${i + 1}`));
    try {
      await refusedBusy('2001:db8::9');
      const other = await deliverFrom('198.51.100.20');
      assert.equal(other.status, 200, `another address is served: ${other.text}`);
    } finally {
      for (const hog of hogs) hog.destroy();
    }
  });

  it('a source in a private range (a proxy not trusted: every sender at once) has the whole bound, not a share', async () => {
    const hogs = await hold(['10.0.0.7']);
    // What the bound has left but a hundred bytes, from the same source: more than a share would let it hold.
    hogs.push(await holdBody('10.0.0.7', BUDGET - Math.floor(BUDGET / HELD) * HELD - 100));
    try {
      // The held bodies fill the whole bound: every source is refused, not only the proxy's (but one that delivered a
      // signed body lately, below: this one never did).
      await newAddressRefusedBusy('192.0.2.');
    } finally {
      for (const hog of hogs) hog.destroy();
    }
  });

  it('unsigned bodies from many addresses hold the whole bound: an address that delivered a signed body lately is still read (the reserve), a new one is not', async () => {
    const talkdesk = '198.18.0.60';
    assert.equal((await deliverFrom(talkdesk)).status, 200, 'a signed delivery before the flood');
    // Eight addresses, each holding its share (two bodies), then what the bound has left but a hundred bytes.
    const hogs = await hold(Array.from({ length: 8 }, (_, i) => `203.0.113.${100 + i}`));
    hogs.push(await holdBody('10.0.0.8', BUDGET - 8 * 2 * HELD - 100));
    try {
      await newAddressRefusedBusy('198.18.1.');
      const again = await deliverFrom(talkdesk);
      assert.equal(again.status, 200, `the address that delivered before is served: ${again.text}`);
      assert.equal(again.json?.status, 'accepted');
    } finally {
      for (const hog of hogs) hog.destroy();
    }
  });
});
