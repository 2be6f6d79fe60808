import assert from 'node:assert/strict';
import net, { type AddressInfo, type Server } from 'node:net';
import type { InstalledEvent } from '../../src/simulator';
import { workflowIdFor } from '../../workflows/definitions';
import { postCallback } from '../support/callback-client';
import { leakedSecrets, textOf } from '../support/secret-scan';
import { startSystem, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';

/**
 * SSRF through `_links`, at the workflow level: a validly signed install whose
 * links point at another host, an IP literal, a userinfo trick, or whose Talkdesk
 * answers with a redirect elsewhere. The worker's allow-list names only the
 * simulator (127.0.0.1:<its port>). Each installation must be rejected with a
 * non-retryable failure, and no connection may reach the other listeners, which
 * record every TCP connection they accept.
 */

interface Trap {
  server: Server;
  host: string;
  port: number;
  connections: number;
  close(): Promise<void>;
}

async function trap(host: string, port = 0): Promise<Trap> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    t.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const t: Trap = {
    server,
    host,
    port: (server.address() as AddressInfo).port,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
  return t;
}

interface FailureSeen {
  type: string;
  message: string;
}

describe('security: SSRF attempts through _links are refused at the workflow level', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let otherPort: Trap; // 127.0.0.1, another port: "another host"
  let otherIp: Trap; // 127.0.0.2 on the simulator's own port: an IP literal that is not the listed one

  before(async () => {
    sys = await startSystem();
    otherPort = await trap('127.0.0.1');
    otherIp = await trap('127.0.0.2', sys.simulator.port);
  });
  after(async () => {
    await sys?.close();
    await otherPort?.close();
    await otherIp?.close();
  });
  afterEach(() => sys.simulator.clearFaults());

  /** The activity failures recorded in the installation's history, by type. */
  async function failures(installationId: string): Promise<FailureSeen[]> {
    const history = await sys.client.workflow.getHandle(workflowIdFor(installationId)).fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const f = e.activityTaskFailedEventAttributes?.failure;
      return f ? [{ type: f.applicationFailureInfo?.type ?? '?', message: f.message ?? '' }] : [];
    });
  }

  /**
   * Delivers an install with `links` changed, validly signed, and waits for the
   * rejection. Returns the failures recorded and the simulator calls made for it.
   */
  async function deliverForged(change: (links: Record<string, { href: string }>) => void) {
    const { installation, event } = sys.simulator.createInstallation();
    const forged = structuredClone(event) as InstalledEvent & { _links: Record<string, { href: string }> };
    change(forged._links);
    const before = { otherPort: otherPort.connections, otherIp: otherIp.connections };
    const answer = await postCallback(sys.web.callbackUrl, forged);
    assert.equal(answer.status, 200, `the callback accepts the signed event (the links are checked where they are used): ${answer.text}`);
    const view = await waitForPhase(sys.client, installation.id, 'rejected');
    const seen = await failures(installation.id);
    assert.equal(otherPort.connections, before.otherPort, 'no connection reached the other port');
    assert.equal(otherIp.connections, before.otherIp, 'no connection reached the other IP');
    assert.equal(sys.simulator.getInstallation(installation.id)?.state !== 'completed', true, 'never approved');
    return {
      installation,
      event,
      view,
      seen,
      calls: sys.simulator.calls.filter((c) => c.clientId === event.data.client_id || c.installationId === installation.id),
    };
  }

  function assertHostNotAllowed(seen: FailureSeen[], hostPattern: RegExp): void {
    const refused = seen.filter((f) => f.type === 'TalkdeskHostNotAllowed');
    assert.ok(refused.length > 0, `a TalkdeskHostNotAllowed failure (${JSON.stringify(seen)})`);
    for (const f of refused) assert.match(f.message, hostPattern);
  }

  it('the traps record connections (control)', async () => {
    for (const t of [otherPort, otherIp]) {
      const before = t.connections;
      const answer = await fetch(`http://${t.host}:${t.port}/`);
      assert.equal(answer.status, 200);
      assert.equal(t.connections, before + 1, `${t.host}:${t.port} counts a connection`);
    }
  });

  it('tokens href on another host:port', async () => {
    const r = await deliverForged((l) => (l.tokens = { href: `http://127.0.0.1:${otherPort.port}/oauth/token` }));
    assertHostNotAllowed(r.seen, new RegExp(`127\\.0\\.0\\.1:${otherPort.port}.*not on the allow-list`));
    assert.deepEqual(
      r.calls.filter((c) => c.route === 'token'),
      [],
      'no token request anywhere',
    );
    assert.equal(r.view.history.at(-1)?.result, 'rejected');
  });

  it('root href on another host:port (the token is fine, the API calls are not made)', async () => {
    const r = await deliverForged((l) => (l.root = { href: `http://127.0.0.1:${otherPort.port}` }));
    assertHostNotAllowed(r.seen, new RegExp(`127\\.0\\.0\\.1:${otherPort.port}`));
    assert.deepEqual(
      r.calls.filter((c) => c.route !== 'token'),
      [],
      'no API call reached the simulator either',
    );
  });

  it('an IP literal: 127.0.0.2 on the allowed port, also written in decimal', async () => {
    const dotted = await deliverForged((l) => (l.tokens = { href: `http://127.0.0.2:${sys.simulator.port}/oauth/token` }));
    assertHostNotAllowed(dotted.seen, /127\.0\.0\.2.*(loopback|private|not on the allow-list)/);
    const decimal = await deliverForged((l) => (l.root = { href: `http://2130706434:${sys.simulator.port}` }));
    assertHostNotAllowed(decimal.seen, /127\.0\.0\.2/);
  });

  it('a loopback name for the allowed address: localhost is not 127.0.0.1', async () => {
    // The event's own token URL, its host written as localhost: a request that got through would reach a route.
    const r = await deliverForged((l) => (l.tokens = { href: l.tokens!.href.replace('//127.0.0.1:', '//localhost:') }));
    assertHostNotAllowed(r.seen, /localhost/);
    assert.deepEqual(
      r.calls.filter((c) => c.route === 'token'),
      [],
      'the simulator behind localhost saw no token request',
    );
  });

  it('a userinfo trick: the allowed host:port as user:password in front of another host', async () => {
    const tokens = await deliverForged(
      (l) => (l.tokens = { href: `http://127.0.0.1:${sys.simulator.port}@127.0.0.1:${otherPort.port}/oauth/token` }),
    );
    assertHostNotAllowed(tokens.seen, /user info/);
    const root = await deliverForged((l) => (l.root = { href: `http://127.0.0.1:${sys.simulator.port}@127.0.0.2:${sys.simulator.port}` }));
    assertHostNotAllowed(root.seen, /user info/);
  });

  it('a redirect from the token endpoint and from the API to another host is not followed', async () => {
    sys.simulator.failNext('token', 1, { status: 307, headers: { location: `http://127.0.0.1:${otherPort.port}/oauth/token` } });
    const token = await deliverForged(() => undefined);
    const redirected = token.seen.filter((f) => f.type === 'TalkdeskProtocol');
    assert.ok(redirected.length > 0, JSON.stringify(token.seen));
    assert.match(redirected[0]?.message ?? '', new RegExp(`redirect to 127\\.0\\.0\\.1:${otherPort.port}, which is never followed`));
    // A fault answer carries no client id: count them all (the tests run one at a time).
    assert.equal(sys.simulator.calls.filter((c) => c.route === 'token' && c.status === 307).length, 1, 'one redirect served: not retried');

    sys.simulator.failNext('account', 1, { status: 302, headers: { location: `http://127.0.0.2:${sys.simulator.port}/account` } });
    const api = await deliverForged(() => undefined);
    const apiRedirect = api.seen.filter((f) => f.type === 'TalkdeskProtocol');
    assert.match(apiRedirect[0]?.message ?? '', /answered 302 .*to GET \/account.*redirect to 127\.0\.0\.2/);
  });

  it('nothing secret is in the failures: no token, assertion or client secret', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    const forged = structuredClone(event) as InstalledEvent & { _links: Record<string, { href: string }> };
    forged._links.root = { href: `http://127.0.0.1:${otherPort.port}` };
    assert.equal((await postCallback(sys.web.callbackUrl, forged)).status, 200);
    await waitForPhase(sys.client, installation.id, 'rejected');
    assert.ok((await failures(installation.id)).length > 0, 'failures to look through');
    // The whole history (failures with their causes and stacks, inputs, results), every form of each secret.
    const history = await sys.client.workflow.getHandle(workflowIdFor(installation.id)).fetchHistory();
    const secrets = sys.simulator.issuedSecrets();
    assert.ok(secrets.length > 0);
    assert.deepEqual(leakedSecrets(textOf(history), secrets), [], 'no issued secret appears in the history');
  });
});
