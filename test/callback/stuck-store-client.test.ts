import assert from 'node:assert/strict';
import { pingWithNewClient } from '../../src/store';
import { postCallback } from '../support/callback-client';
import { throughProxy, useSystemBehindMongoProxy } from '../support/mongo-proxy';
import { currentMonitor, monitorWedged, serverUnknown, wedgeMonitor } from '../support/mongo-wedge';
import { mongoUri } from '../support/servers';
import type { SystemOptions, TestSystem } from '../support/system';
import type { TcpProxy } from '../support/tcp-proxy';
import { eventually, holdsFor, waitForPhase } from '../support/waits';

/**
 * The web server's MongoDB client stuck after an outage while the store answers everyone else: the
 * driver's monitor wedged on a dead socket (test/support/mongo-wedge.ts), the server left unknown.
 */
describe('callback: a web store client stuck after an outage', function () {
  this.timeout(90_000);

  /** The suite's system (its web behind a proxy), read once the hooks ran. */
  function systemBehindProxy(opts: SystemOptions): { sys: () => TestSystem; proxy: () => TcpProxy } {
    let sys: TestSystem | undefined;
    let proxy: TcpProxy | undefined;
    useSystemBehindMongoProxy((s, p) => {
      sys = s;
      proxy = p;
    }, opts);
    const started = <T>(v: T | undefined): T => {
      assert.ok(v, 'the system started');
      return v;
    };
    return { sys: () => started(sys), proxy: () => started(proxy) };
  }

  /** Wedges the web client's monitor, then an outage marks the server unknown: the callback answers 503. */
  async function wedgeThroughOutage(sys: TestSystem, proxy: TcpProxy) {
    const { event } = sys.simulator.createInstallation();
    await sys.webStore.ping();
    await wedgeMonitor(sys.webStore.db.client);
    proxy.block();
    const refused = await postCallback(sys.web.callbackUrl, event);
    assert.equal(refused.status, 503, refused.text);
    // While the store is unreachable, until an operation's network error has marked the server unknown.
    await eventually('the web client to mark its server unknown', async () => {
      if (serverUnknown(sys.webStore.db.client)) return true;
      await sys.webStore.ping().catch(() => undefined);
      return undefined;
    });
    assert.ok(monitorWedged(sys.webStore.db.client), 'the monitor still wedged');
    proxy.unblock();
    return event;
  }

  describe('without the watchdog (WEB_STORE_STUCK_SECONDS=0)', () => {
    const { sys, proxy } = systemBehindProxy({ webStoreWatchdog: false });

    it('the client stays stuck while a new client on the same address answers (the driver fault this guards against)', async () => {
      const event = await wedgeThroughOutage(sys(), proxy());
      const freshUri = throughProxy(await mongoUri(), proxy());
      await pingWithNewClient(freshUri, sys().webStore.db.db.databaseName);
      await holdsFor(
        'the web client stuck',
        // Each way out named, so that a failure says whether the driver's monitor recovered or the ping got through.
        async () => {
          if (!monitorWedged(sys().webStore.db.client)) throw new Error('the monitor left its check on the dead socket');
          const answered = await sys()
            .webStore.ping()
            .then(
              () => true,
              () => false,
            );
          if (answered) throw new Error(`the web client answered a ping (server unknown: ${serverUnknown(sys().webStore.db.client)})`);
          return true;
        },
        8_000,
      );
      await pingWithNewClient(freshUri, sys().webStore.db.db.databaseName);
      const stillRefused = await postCallback(sys().web.callbackUrl, event);
      assert.equal(stillRefused.status, 503, stillRefused.text);
    });
  });

  describe('with the watchdog', () => {
    const { sys, proxy } = systemBehindProxy({ webStoreWatchdog: { stuckAfterMs: 2_000, everyMs: 500 } });

    it('reconnects the client in place: the redelivery is accepted and handed over, nothing lost', async () => {
      const event = await wedgeThroughOutage(sys(), proxy());
      const wedged = currentMonitor(sys().webStore.db.client);
      const accepted = await eventually(
        'the callback to accept the redelivery',
        async () => {
          const answer = await postCallback(sys().web.callbackUrl, event);
          return answer.status === 200 ? answer : undefined;
        },
        45_000,
      );
      assert.deepEqual(accepted.json, { status: 'accepted', eventId: event.id, dispatched: true });
      assert.ok(
        sys().logLines.some((l) => l.includes('reconnecting its client')),
        'the watchdog reconnected the client',
      );
      assert.notEqual(currentMonitor(sys().webStore.db.client), wedged, 'a new monitor');
      const view = await waitForPhase(sys().client, event.data.installation_id, 'active');
      assert.equal(view.appliedEvents, 1);
    });
  });
});
