import assert from 'node:assert/strict';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoNetworkError } from 'mongodb';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import type { TalkdeskEvent } from '../../src/events/schemas';
import type { LifecycleEvent } from '../../workflows/definitions';
import { connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { createApp } from '../../src/web/app';
import { createWebMetrics } from '../../src/web/metrics';
import { postCallback } from '../support/callback-client';
import { captureLogger } from '../support/logs';
import { mongoUri, uniqueDbName } from '../support/servers';
import { APP_ID, WEBHOOK_SECRET } from '../support/system';
import { freshEvent } from '../security/support';

/**
 * The sessions an uninstall or a user removal ends are ended once the event is stored and
 * before its hand-over: when that fails (MongoDB gone between the two), the event stays
 * stored, is not handed over but queued for the dispatcher, and the answer asks for the
 * redelivery that ends them and hands it over. A repeat of an event handed over already ends nothing (a session opened since is
 * not its to end). The store is FerretDB; Temporal is a recording function.
 */
describe('callback: ending sessions fails after the event is stored', function () {
  this.timeout(60_000);
  let db: Database;
  let store: Store;
  let server: http.Server;
  let url: string;
  const handedOver: LifecycleEvent[] = [];
  const ended: TalkdeskEvent[] = [];
  let failNext = 0;
  let failWith: (() => Error) | undefined;
  // Temporal refusing the next hand-overs (a recording function here).
  let dispatchFailsNext = 0;
  const logs = captureLogger('web');

  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('endfail'));
    const keyring = parseKeyring(generateKeySpec('ef1'));
    store = createStore(db, keyring);
    await store.ensureIndexes();
    const dispatch = async (e: LifecycleEvent) => {
      if (dispatchFailsNext > 0) {
        dispatchFailsNext -= 1;
        throw Object.assign(new Error('Temporal unavailable'), { name: 'ServiceError' });
      }
      handedOver.push(e);
    };
    const app = createApp({
      appId: APP_ID,
      webhookSecrets: [WEBHOOK_SECRET],
      skipSignatureCheck: false,
      bodyLimitBytes: 256 * 1024,
      bodyTimeoutMs: 5_000,
      keyring,
      inbox: store.inbox,
      dispatch,
      logger: logs.logger,
      metrics: createWebMetrics(),
      launch: {
        beforeHandOver: async (event) => {
          if (failNext > 0) {
            failNext -= 1;
            throw failWith?.() ?? new MongoNetworkError('connection closed');
          }
          ended.push(event);
        },
        userLogout: () => Promise.reject(new Error('not used here')),
      },
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/talkdesk/events`;
  });
  after(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  it('503 with the event stored and not handed over; the redelivery ends the sessions and hands it over; a later repeat ends nothing', async () => {
    const event = freshEvent('app.uninstalled');
    failNext = 1;
    const first = await postCallback(url, event);
    assert.equal(first.status, 503, first.text);
    assert.equal(first.json?.error?.code, 'store_unavailable');
    assert.equal(first.headers['retry-after'], '30');
    const stored = await store.inbox.get(event.id);
    assert.ok(stored, 'stored');
    assert.equal(stored.dispatchedAt, undefined, 'not marked');
    assert.match(first.json?.error?.message ?? '', /was stored, but the sessions it ends could not be ended \(MongoDB did not answer\)/);
    // Queued as well, for after Talkdesk's redeliveries: were every one to fail so, the dispatcher would still
    // hand it over; not sooner, or the redelivery would find it handed over and end no session.
    const queued = await store.inbox.queued(event.id);
    assert.ok(queued, 'queued for the dispatcher');
    assert.ok(queued.nextDispatchAt.getTime() >= Date.now() + 15 * 60_000, queued.nextDispatchAt.toISOString());
    assert.equal(handedOver.length, 0, 'not handed over before its sessions ended');
    assert.equal(ended.length, 0);

    const again = await postCallback(url, event);
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(
      ended.map((e) => e.id),
      [event.id],
      'the redelivery ended the sessions',
    );
    assert.deepEqual(
      handedOver.map((e) => e.eventId),
      [event.id],
    );
    assert.ok((await store.inbox.get(event.id))?.dispatchedAt, 'marked');

    const repeat = await postCallback(url, event);
    assert.equal(repeat.status, 200, repeat.text);
    assert.equal(repeat.json?.status, 'duplicate');
    assert.equal(ended.length, 1, 'a repeat of an event handed over ends no session');
    assert.equal(handedOver.length, 1);
  });

  it("a redelivery that ends the sessions but cannot hand over lifts the hold: the dispatcher's next pass takes the event", async () => {
    const event = freshEvent('app.uninstalled');
    failNext = 1;
    const first = await postCallback(url, event);
    assert.equal(first.status, 503, first.text);
    const held = await store.inbox.queued(event.id);
    assert.ok(held?.heldUntil, 'held for after the redeliveries');
    assert.deepEqual(
      (await store.inbox.listUndispatched(1_000)).filter((r) => r._id === event.id),
      [],
      'not for the dispatcher while held',
    );

    dispatchFailsNext = 1;
    const again = await postCallback(url, event);
    assert.equal(again.status, 202, again.text);
    assert.equal(again.json?.dispatched, false);
    assert.ok(
      ended.some((e) => e.id === event.id),
      'the redelivery ended the sessions',
    );
    const released = await store.inbox.queued(event.id);
    assert.ok(released, 'still queued for the dispatcher');
    assert.equal(released.heldUntil, undefined, 'the hold is lifted');
    assert.ok(released.nextDispatchAt.getTime() <= Date.now(), released.nextDispatchAt.toISOString());
    assert.deepEqual(
      (await store.inbox.listUndispatched(1_000)).filter((r) => r._id === event.id).map((r) => r._id),
      [event.id],
      "in the dispatcher's next pass, not 16 minutes later",
    );
  });

  it('a failure that is not MongoDB is not blamed on it; a queue write failing too is logged (a redelivery or the start-up pass hands it over)', async () => {
    const event = freshEvent('app.uninstalled');
    failNext = 1;
    failWith = () => new TypeError('a bug in a launch hook');
    const enqueue = store.inbox.enqueue.bind(store.inbox);
    store.inbox.enqueue = () => Promise.reject(new MongoNetworkError('connection closed'));
    try {
      const first = await postCallback(url, event);
      assert.equal(first.status, 503, first.text);
      assert.match(first.json?.error?.message ?? '', /could not be ended \(an internal error, logged by the service\)/);
      assert.ok(!first.text.includes('a bug in a launch hook'), "the error's text stays in the log");
    } finally {
      store.inbox.enqueue = enqueue;
      failWith = undefined;
    }
    assert.equal(await store.inbox.queued(event.id), null, 'not queued');
    assert.ok(
      logs.lines.some((l) => l.includes('not queued: a redelivery or the start-up pass hands it over') && l.includes(event.id)),
      'the queue write failure is logged with the event',
    );
  });
});
