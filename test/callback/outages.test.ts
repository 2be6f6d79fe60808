import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import type { InstalledEvent } from '../../src/simulator';
import { postCallback } from '../support/callback-client';
import { assertNoWorkflow } from '../support/callback-checks';
import { useSystemBehindMongoProxy } from '../support/mongo-proxy';
import { temporalDevEnv } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';
import { hostPort, startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { eventually, waitForPhase } from '../support/waits';

/** Exactly one approval reached Talkdesk for the installation, and it was answered 200. */
function assertOneApproval(sys: TestSystem, installationId: string): void {
  const approvals = sys.simulator.stateCalls(installationId);
  assert.equal(approvals.length, 1, `one approval (${JSON.stringify(approvals)})`);
  assert.deepEqual(approvals[0]?.body, { state: 'approve' });
  assert.equal(approvals[0]?.status, 200);
}

describe('callback: outages of MongoDB and Temporal', function () {
  this.timeout(150_000);

  describe('MongoDB unreachable from the web server', () => {
    let proxy: TcpProxy;
    let sys: TestSystem;
    // Only the web server's connection goes through the proxy; the worker's is direct.
    useSystemBehindMongoProxy((s, p) => {
      sys = s;
      proxy = p;
    });

    it('answers 503 with Retry-After, stores nothing half-way, and accepts the redelivery once MongoDB is back', async function () {
      this.timeout(150_000);
      const { installation, event } = sys.simulator.createInstallation();
      // Control: the web server's own connection works through the proxy.
      await sys.webStore.ping();
      assert.ok(proxy.stats.forwarded > 0, 'the web server talks to MongoDB through the proxy');

      proxy.block();
      // Answered at all (not hung: the test's timeout would end it), within the store's own timeout; no wall-clock bound.
      const refused = await postCallback(sys.web.callbackUrl, event);
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.headers['retry-after'], '30');
      assert.equal(refused.json?.error?.code, 'store_unavailable');
      assert.ok(!refused.text.includes(event.data.client_secret));
      const ready = await fetch(`${sys.web.adminUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'not ready', mongodb: false, temporal: true });

      proxy.unblock();
      // Through the direct connection: nothing of the event was stored, nothing started.
      assert.equal(await sys.store.inbox.get(event.id), null);
      assert.deepEqual(await sys.store.inbox.listForInstallation(installation.id), []);
      assert.equal(await sys.store.inbox.countUndispatched(), 0);
      await assertNoWorkflow(sys.client, installation.id);

      // Talkdesk delivers again later; the web server's connection has recovered by then. The driver's
      // monitor finds the server again on its own schedule: a loaded machine once made that outlast 30 s.
      await eventually('the web server to reach MongoDB again', () => sys.webStore.ping().then(() => true), 90_000);
      const accepted = await postCallback(sys.web.callbackUrl, event);
      assert.equal(accepted.status, 200, accepted.text);
      assert.deepEqual(accepted.json, { status: 'accepted', eventId: event.id, dispatched: true });

      const view = await waitForPhase(sys.client, installation.id, 'active');
      assert.equal(view.appliedEvents, 1);
      assert.equal((await sys.store.inbox.listForInstallation(installation.id)).length, 1);
      assertOneApproval(sys, installation.id);
    });
  });

  describe('Temporal unreachable from the web server', () => {
    let proxy: TcpProxy;
    let connection: Connection;
    let sys: TestSystem;
    before(async () => {
      const env = await temporalDevEnv();
      const { host, port } = hostPort(env.address);
      proxy = await startTcpProxy(host, port);
      connection = Connection.lazy({
        address: proxy.address,
        // Reconnect soon after the outage (the default backoff grows to two minutes).
        channelArgs: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1_000 },
      });
      const webClient = new Client({ connection, namespace: env.namespace ?? 'default' });
      // Only the web server (callback and dispatcher) goes through the proxy; the worker and
      // sys.client keep their direct connections.
      sys = await startSystem({ webClient });
    });
    after(async () => {
      await sys?.close();
      await connection?.close();
      await proxy?.close();
    });
    afterEach(() => proxy.unblock());

    /** Posts during the outage and checks the 202 and the stored, undispatched record. */
    async function deliverDuringOutage(event: InstalledEvent) {
      const answer = await postCallback(sys.web.callbackUrl, event);
      assert.equal(answer.status, 202, answer.text);
      // Still ready: a readiness probe must not take the callback out of rotation while it stores events.
      await eventually('readiness to see Temporal out of reach (it is cached 1.5 s)', async () => {
        const ready = await fetch(`${sys.web.adminUrl}/readyz`);
        const body = (await ready.json()) as { temporal?: boolean };
        return body.temporal === false ? [ready.status, body] : undefined;
      }).then((seen) => assert.deepEqual(seen, [200, { status: 'degraded', mongodb: true, temporal: false }]));
      assert.deepEqual(answer.json, { status: 'stored', eventId: event.id, dispatched: false });
      const record = await sys.store.inbox.get(event.id);
      assert.ok(record, 'the event is in the inbox');
      assert.equal(record.dispatchedAt, undefined, 'not dispatched');
      assert.equal(record.installationId, event.data.installation_id);
      const credentials = await sys.store.eventCredentials.get(event.id);
      assert.ok(credentials, 'its credentials are kept (encrypted) for the workflow');
      assert.ok(!JSON.stringify(credentials).includes(event.data.client_secret), 'encrypted, not in plaintext');
      assert.ok(!JSON.stringify(record).includes(event.data.client_secret), 'not in the inbox record');
      return record;
    }

    /** Unblocks and waits for the dispatcher to hand the event over and the install to complete. */
    async function recover(event: InstalledEvent) {
      proxy.unblock();
      const dispatched = await eventually(
        'the dispatcher to hand the stored event over',
        async () => (await sys.store.inbox.get(event.id))?.dispatchedAt,
        // The dispatcher backs off while Temporal fails (up to 38.4 s between tries): a slow outage meets a long one.
        90_000,
      );
      assert.ok(dispatched instanceof Date);
      return waitForPhase(sys.client, event.data.installation_id, 'active');
    }

    it('answers 202, keeps the event undispatched, and the dispatcher hands it over once Temporal is back', async () => {
      const { installation, event } = sys.simulator.createInstallation();
      proxy.block();
      await deliverDuringOutage(event);
      await assertNoWorkflow(sys.client, installation.id);
      // The dispatcher keeps trying during the outage, and backs off: a failed attempt is seen while its next is still ahead.
      const failed = await eventually('a failed dispatch attempt, the next one backed off', async () => {
        const q = await sys.store.inbox.queued(event.id);
        return q && (q.dispatchAttempts ?? 0) >= 1 && q.nextDispatchAt.getTime() > Date.now() ? q : undefined;
      });
      const stored = await sys.store.inbox.get(event.id);
      assert.equal(stored?.dispatchedAt, undefined);
      assert.ok(failed.lastDispatchError, 'the failure is recorded');
      assert.equal(await sys.store.inbox.countUndispatched(), 1);
      assert.ok(proxy.stats.refused > 0, 'the web server did try to reach Temporal');

      const view = await recover(event);
      assert.equal(view.appliedEvents, 1);
      assert.equal(view.activeClientId, event.data.client_id);
      assertOneApproval(sys, installation.id);
      assert.equal(await sys.store.inbox.countUndispatched(), 0);
      assert.equal(await sys.store.inbox.queued(event.id), null, 'the queue entry and its last error are gone once dispatched');
      assert.equal(await sys.store.eventCredentials.get(event.id), undefined, 'the credentials moved to the credential store');
    });

    it('keeps one record when the event is delivered twice during the outage, and approves once', async () => {
      const { installation, event } = sys.simulator.createInstallation();
      proxy.block();
      await deliverDuringOutage(event);
      await deliverDuringOutage(event);
      const records = await sys.store.inbox.listForInstallation(installation.id);
      assert.equal(records.length, 1, 'one inbox record');
      assert.equal(records[0]?._id, event.id);
      await assertNoWorkflow(sys.client, installation.id);

      const view = await recover(event);
      assert.equal(view.appliedEvents, 1, 'the install is applied once');
      assertOneApproval(sys, installation.id);
      assert.equal((await sys.store.inbox.listForInstallation(installation.id)).length, 1);
      assert.equal(await sys.store.accounts.accounts.countDocuments({ installationId: installation.id }), 1);

      // Talkdesk's retry after the recovery: a duplicate, answered 200, changing nothing.
      const again = await postCallback(sys.web.callbackUrl, event);
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.json, { status: 'duplicate', eventId: event.id });
      const after = await waitForPhase(sys.client, installation.id, 'active');
      assert.equal(after.appliedEvents, 1);
      assertOneApproval(sys, installation.id);
    });
  });
});
