import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Simulator } from '../../src/simulator';
import { start, WEBHOOK_SECRET } from './helpers';

interface Received {
  at: number;
  raw: string;
  headers: http.IncomingHttpHeaders;
}

/** A callback receiver answering a scripted sequence of statuses (last one repeats). */
async function receiver(statuses: number[]) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ at: Date.now(), raw: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.statusCode = statuses[Math.min(received.length - 1, statuses.length - 1)] ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/talkdesk/events`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { url, received, close };
}

async function closedPortUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/talkdesk/events`;
}

describe('simulator event delivery', () => {
  let sim: Simulator;
  let rx: Awaited<ReturnType<typeof receiver>> | undefined;
  afterEach(async () => {
    await sim.stop();
    await rx?.close();
    rx = undefined;
  });

  it('POSTs the raw JSON with an x-hub-signature HMAC-SHA256 of exactly those bytes', async () => {
    rx = await receiver([200]);
    sim = await start({ callbackUrl: rx.url, retryDelaysMs: [50, 50] });
    const { event } = sim.createInstallation();
    assert.equal(await sim.deliver(event), 200);
    assert.equal(rx.received.length, 1);
    const got = rx.received[0];
    assert.ok(got);
    const expected = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(got.raw).digest('hex')}`;
    assert.equal(got.headers['x-hub-signature'], expected);
    assert.equal(sim.signBody(got.raw), expected);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(got.raw), event);
    await sim.deliveriesSettled();
    assert.deepEqual(
      sim.deliveries.map((d) => [d.eventId, d.eventType, d.attempt, d.status, d.ok]),
      [[event.id, 'app.installed', 1, 200, true]],
    );
  });

  it('retries a failed delivery after retryDelaysMs[0] then [1], and stops on success', async () => {
    rx = await receiver([500, 503, 204]);
    sim = await start({ callbackUrl: rx.url, retryDelaysMs: [150, 300] });
    const { event } = sim.createInstallation();
    assert.equal(await sim.deliver(event), 500);
    assert.equal(rx.received.length, 1, 'first attempt only, retries run in the background');
    await sim.deliveriesSettled();
    const [a, b, c] = rx.received.map((r) => r.at);
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    // The configured delays at least (the defaults, minutes, would outlast the test's timeout): no ceiling on a loaded machine.
    assert.ok(b - a >= 140, `1st gap ${b - a}`);
    assert.ok(c - b >= 290, `2nd gap ${c - b}`);
    assert.deepEqual(
      sim.deliveries.map((d) => [d.attempt, d.status, d.ok]),
      [
        [1, 500, false],
        [2, 503, false],
        [3, 204, true],
      ],
    );
    // Every attempt is the same bytes with the same signature.
    assert.equal(new Set(rx.received.map((r) => `${r.raw}|${String(r.headers['x-hub-signature'])}`)).size, 1);
  });

  it('gives up after three attempts', async () => {
    rx = await receiver([500]);
    sim = await start({ callbackUrl: rx.url, retryDelaysMs: [40, 80] });
    const { installation } = sim.createInstallation();
    assert.equal(await sim.deliver(sim.uninstall(installation.id)), 500);
    await sim.deliveriesSettled(); // the whole retry chain: a fourth attempt would be counted already
    assert.equal(rx.received.length, 3);
    assert.deepEqual(
      sim.deliveries.map((d) => d.attempt),
      [1, 2, 3],
    );
  });

  it('a connection error resolves 0, is recorded and retried', async () => {
    const url = await closedPortUrl();
    sim = await start({ retryDelaysMs: [20, 20] });
    const { event } = sim.createInstallation();
    assert.equal(await sim.deliver(event, { callbackUrl: url }), 0);
    await sim.deliveriesSettled();
    assert.equal(sim.deliveries.length, 3);
    for (const d of sim.deliveries) {
      assert.equal(d.status, 0);
      assert.equal(d.ok, false);
      assert.match(d.error ?? '', /ECONNREFUSED/);
      assert.equal(d.callbackUrl, url);
    }
  });

  it('signature override / omission and raw string events (tamper tests)', async () => {
    rx = await receiver([401]);
    sim = await start({ callbackUrl: rx.url, retryDelaysMs: [10_000, 10_000] });
    const { event } = sim.createInstallation();
    await sim.deliver(event, { signature: 'sha256=00' });
    await sim.deliver(event, { signature: null });
    const raw = JSON.stringify(event, null, 2);
    await sim.deliver(raw);
    assert.equal(rx.received[0]?.headers['x-hub-signature'], 'sha256=00');
    assert.equal(rx.received[1]?.headers['x-hub-signature'], undefined);
    assert.equal(rx.received[2]?.raw, raw);
    assert.equal(rx.received[2]?.headers['x-hub-signature'], sim.signBody(raw));
    assert.equal(sim.deliveries[2]?.eventId, event.id);
  });

  it('stop() cancels pending retries', async () => {
    rx = await receiver([500]);
    sim = await start({ callbackUrl: rx.url });
    const { event } = sim.createInstallation();
    assert.equal(await sim.deliver(event), 500);
    await sim.stop();
    // Settles at once: a retry still pending would wait for the default delay (minutes), past the test's timeout.
    await sim.deliveriesSettled();
    assert.equal(rx.received.length, 1);
  });

  it('needs a callback URL', async () => {
    sim = await start();
    await assert.rejects(sim.deliver(sim.createInstallation().event), /callbackUrl/);
  });
});
