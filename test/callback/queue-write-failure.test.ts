import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { postCallback } from '../support/callback-client';
import { assertNoWorkflow } from '../support/callback-checks';
import { throughProxy } from '../support/mongo-proxy';
import { mongoUri, temporalDevEnv } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';
import { hostPort, startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { eventually, waitForPhase } from '../support/waits';

/**
 * The callback stored the event, Temporal did not take it, and the write that queues it for
 * the dispatcher failed (MongoDB went away in between): nothing would hand the event over but
 * a redelivery, so the callback must answer 503 (Retry-After), and the redelivery, once
 * MongoDB is back, hand it to the workflow exactly once.
 */
/** The web client's recovery after the proxy's outage: a driver heartbeat (10 s) or the store watchdog's reconnect, on a loaded machine. */
const RECOVERY_MS = 60_000;

describe('callback: the queue write fails after the event was stored', function () {
  this.timeout(180_000);
  let mongoProxy: TcpProxy;
  let temporalProxy: TcpProxy;
  let connection: Connection;
  let sys: TestSystem;

  before(async () => {
    const uri = await mongoUri();
    const mongo = hostPort(uri);
    mongoProxy = await startTcpProxy(mongo.host, mongo.port);
    const env = await temporalDevEnv();
    const temporal = hostPort(env.address);
    temporalProxy = await startTcpProxy(temporal.host, temporal.port);
    connection = Connection.lazy({
      address: temporalProxy.address,
      channelArgs: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1_000 },
    });
    // Only the web server goes through the proxies; the worker and sys.store/sys.client are direct.
    sys = await startSystem({
      webMongoUri: throughProxy(uri, mongoProxy),
      webClient: new Client({ connection, namespace: env.namespace ?? 'default' }),
    });
  });
  after(async () => {
    await sys?.close();
    await connection?.close();
    await mongoProxy?.close();
    await temporalProxy?.close();
  });

  it('answers 503 with Retry-After; the redelivery once MongoDB is back is handed over once', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    await sys.webStore.ping();
    // The dispatcher's once-per-process backstop (queueing every stored event without an entry) is
    // done: the stored event below is then queued by nothing but the callback (or a redelivery).
    await sys.web.dispatcher.runOnce();
    // MongoDB goes away exactly as the callback queues the event (the insert before it went through).
    const inbox = sys.webStore.inbox;
    const enqueue = inbox.enqueue.bind(inbox);
    let queueWrites = 0;
    inbox.enqueue = (...args) => {
      queueWrites += 1;
      if (queueWrites === 1) mongoProxy.block();
      return enqueue(...args); // the callback's own arguments: its hold and its durable write
    };
    temporalProxy.block();

    const refused = await postCallback(sys.web.callbackUrl, event);
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.headers['retry-after'], '30');
    assert.deepEqual(refused.json, {
      error: {
        code: 'store_unavailable',
        message:
          'The event was stored but not queued for its hand-over (MongoDB did not answer); deliver it again later: a repeat is recognised, never applied twice.',
      },
    });
    assert.equal(queueWrites, 1, 'the callback tried to queue the event');
    // The step metric tells this apart from a slow store: the store step went through, the hand-over failed.
    const metrics = await (await fetch(`${sys.web.adminUrl}/metrics`)).text();
    assert.match(metrics, /appconnect_callback_step_duration_seconds_count\{step="store",outcome="ok"\} 1\n/);
    assert.match(metrics, /appconnect_callback_step_duration_seconds_count\{step="handover",outcome="failed"\} 1\n/);
    assert.ok(!refused.text.includes(event.data.client_secret));

    // Through the direct connection: stored, neither handed over nor queued; no workflow.
    const stored = await sys.store.inbox.get(event.id);
    assert.ok(stored, 'the insert before the queue write went through');
    assert.equal(stored.dispatchedAt, undefined);
    assert.equal(await sys.store.inbox.queued(event.id), null, 'not queued: only a redelivery hands it over');
    await assertNoWorkflow(sys.client, installation.id);

    mongoProxy.unblock();
    temporalProxy.unblock();
    await eventually('the web server to reach MongoDB again', () => sys.webStore.ping().then(() => true), RECOVERY_MS);
    // Talkdesk delivers again: the stored record is a duplicate not yet handed over, so it is handed over now.
    const accepted = await eventually('the redelivery to be handed over', async () => {
      const answer = await postCallback(sys.web.callbackUrl, event);
      return answer.status === 200 ? answer : undefined;
    });
    assert.deepEqual(accepted.json, { status: 'duplicate', eventId: event.id, dispatched: true });

    const view = await waitForPhase(sys.client, installation.id, 'active');
    assert.equal(view.appliedEvents, 1);
    assert.equal((await sys.store.inbox.get(event.id))?.dispatchedAt instanceof Date, true, 'marked handed over');
    assert.equal((await sys.store.inbox.listForInstallation(installation.id)).length, 1, 'one inbox record');
    const approvals = sys.simulator.stateCalls(installation.id);
    assert.equal(approvals.length, 1, `one approval (${JSON.stringify(approvals)})`);

    // A further redelivery changes nothing: handed over once.
    const again = await postCallback(sys.web.callbackUrl, event);
    assert.deepEqual(again.json, { status: 'duplicate', eventId: event.id });
    const after = await waitForPhase(sys.client, installation.id, 'active');
    assert.equal(after.appliedEvents, 1);
    assert.equal(sys.simulator.stateCalls(installation.id).length, 1);
  });

  it('MongoDB goes away as the callback marks a hand-over: answered 200, and the mark lands once MongoDB is back, without a redelivery', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    await eventually('the web server to reach MongoDB', () => sys.webStore.ping().then(() => true), RECOVERY_MS);
    await sys.web.dispatcher.runOnce();
    // MongoDB goes away exactly as the callback marks the event it has just handed over.
    const inbox = sys.webStore.inbox;
    const mark = inbox.markDispatched.bind(inbox);
    let marks = 0;
    inbox.markDispatched = (eventId, options) => {
      marks += 1;
      if (marks === 1) mongoProxy.block();
      return mark(eventId, options);
    };
    try {
      const accepted = await postCallback(sys.web.callbackUrl, event);
      assert.equal(accepted.status, 200, accepted.text);
      assert.deepEqual(accepted.json, { status: 'accepted', eventId: event.id, dispatched: true });
      // Handed over: the workflow applies it. The inbox (read directly) does not know yet.
      await waitForPhase(sys.client, installation.id, 'active');
      assert.equal((await sys.store.inbox.get(event.id))?.dispatchedAt, undefined);
      assert.equal(sys.web.dispatcher.unmarkedCount, 1, 'kept for the dispatcher to mark');

      mongoProxy.unblock();
      // No redelivery: the dispatcher's passes mark it once the store answers.
      // The dispatcher forgets the id just after its mark lands: wait for both, not the mark alone.
      await eventually(
        'the hand-over marked, and forgotten by the dispatcher',
        async () =>
          (await sys.store.inbox.get(event.id))?.dispatchedAt instanceof Date && sys.web.dispatcher.unmarkedCount === 0 ? true : undefined,
        RECOVERY_MS,
      );
      assert.equal(sys.simulator.stateCalls(installation.id).length, 1, 'approved once');
    } finally {
      inbox.markDispatched = mark;
      mongoProxy.unblock();
    }
  });
});
