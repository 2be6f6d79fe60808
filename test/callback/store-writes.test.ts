import assert from 'node:assert/strict';
import type { CommandStartedEvent } from 'mongodb';
import { COLLECTIONS } from '../../src/store';
import { parseEvent, toLifecycleEvent } from '../../src/events/schemas';
import { workflowIdFor } from '../../workflows/definitions';
import { postCallback } from '../support/callback-client';
import { mongoUri } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';

const WRITE_COMMANDS = new Set(['insert', 'update', 'delete', 'findAndModify']);
const HAND_OVER_COLLECTIONS = new Set<string>([COLLECTIONS.inbox, COLLECTIONS.dispatchQueue, COLLECTIONS.eventCredentials]);

/** One write command the web server sent about the event: `collection command`, and its filters for updates. */
interface Write {
  what: string;
  filters: unknown[];
  concern?: unknown;
}

/** The same MongoDB URI with the driver's command monitoring on. */
function monitored(uri: string): string {
  return `${uri}${uri.includes('?') ? '&' : uri.endsWith('/') ? '?' : '/?'}monitorCommands=true`;
}

/** POSTs the event and returns the answer with the write commands about it sent meanwhile. */
async function deliverCountingOn(sys: TestSystem, event: { id: string }) {
  const writes: Write[] = [];
  // Every command on sso_links, reads too: no worker runs here, so any is the callback's.
  const signInLinks: string[] = [];
  const client = sys.webStore.db.client;
  const listener = (e: CommandStartedEvent) => {
    const collection = e.command[e.commandName] as unknown;
    if (collection === COLLECTIONS.ssoLinks) signInLinks.push(e.commandName);
    if (!WRITE_COMMANDS.has(e.commandName) || typeof collection !== 'string' || !HAND_OVER_COLLECTIONS.has(collection)) return;
    // Only this event's writes: the dispatcher beside the callback may write about others.
    if (!JSON.stringify(e.command).includes(event.id)) return;
    const updates = (e.command.updates ?? e.command.deletes ?? []) as { q: unknown }[];
    writes.push({ what: `${collection} ${e.commandName}`, filters: updates.map((u) => u.q), concern: e.command.writeConcern });
  };
  client.on('commandStarted', listener);
  try {
    const answer = await postCallback(sys.web.callbackUrl, event);
    return { answer, writes, signInLinks };
  } finally {
    client.off('commandStarted', listener);
  }
}

/**
 * The store writes of one callback, counted from the MongoDB driver's command monitoring
 * on the web server's own connection (docs/handover.md, "The write set"). On the
 * embedded FerretDB each write is a SQLite transaction and an update rewrites the whole
 * document, so the count is the cost; this is a structural count, not a timing.
 */
describe('callback: store writes per event (FerretDB, command monitoring)', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  before(async () => {
    // No worker: only the web server's writes are counted, and the workflow need not run.
    // The launch area on, as in production: its callback hooks run once the event is stored.
    sys = await startSystem({ inProcessWorker: false, webMongoUri: monitored(await mongoUri()), launch: {} });
    // The dispatcher's first pass queues every stored event not marked yet (the backstop):
    // done before counting, so that it cannot queue an event a test's callback is handing over.
    await sys.web.dispatcher.runOnce();
  });
  after(() => sys?.close());

  const deliverCounting = (event: { id: string }) => deliverCountingOn(sys, event);

  it('the web server connection is monitored (control)', async () => {
    let seen = 0;
    const client = sys.webStore.db.client;
    const listener = () => (seen += 1);
    client.on('commandStarted', listener);
    await sys.webStore.inbox.get('no-such-event');
    client.off('commandStarted', listener);
    assert.ok(seen > 0, 'command monitoring is on for the web server connection');
  });

  it("user.logout: the handled mark, the last write before the 200, waits for a majority (and with it the handling's writes before it)", async () => {
    const { installation } = sys.simulator.createInstallation();
    const event = sys.simulator.userLogout(installation.id, installation.licensedUserIds[0]!);
    const { answer, writes } = await deliverCounting(event);
    assert.equal(answer.status, 200, answer.text);
    const inbox = writes.filter((w) => w.what.startsWith(`${COLLECTIONS.inbox} `));
    assert.deepEqual(
      inbox.map((w) => w.what),
      [`${COLLECTIONS.inbox} insert`, `${COLLECTIONS.inbox} update`],
    );
    assert.deepEqual(inbox[1]?.concern, { w: 'majority', j: true, wtimeout: 5_000 }, JSON.stringify(writes));
  });

  it('app.installed handed over at once: 3 writes (credentials, record, mark by _id alone), no queue entry, no sso_links command', async () => {
    const { event } = sys.simulator.createInstallation();
    const { answer, writes, signInLinks } = await deliverCounting(event);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json, { status: 'accepted', eventId: event.id, dispatched: true });
    assert.deepEqual(
      writes.map((w) => w.what),
      [`${COLLECTIONS.eventCredentials} insert`, `${COLLECTIONS.inbox} insert`, `${COLLECTIONS.inbox} update`],
    );
    // FerretDB uses an index only for a filter on `_id` alone: any other filter reads the whole inbox.
    assert.deepEqual(writes[2]?.filters, [{ _id: event.id }], 'the mark filters on _id alone');
    // What the answer promises (the only copy of the credentials) is journaled on a majority before it is given.
    assert.deepEqual(
      writes.slice(0, 2).map((w) => w.concern),
      [
        { w: 'majority', j: true, wtimeout: 5_000 },
        { w: 'majority', j: true, wtimeout: 5_000 },
      ],
    );
    assert.ok((await sys.store.inbox.get(event.id))?.dispatchedAt instanceof Date, 'marked handed over');
    assert.equal(await sys.store.inbox.queued(event.id), null, 'never queued');
    assert.ok(await sys.store.eventCredentials.get(event.id), 'its credentials are stored');
    // The sign-in links travel in the event to the workflow's credentials import (docs/handover.md).
    assert.deepEqual(signInLinks, [], 'the callback neither reads nor writes sso_links');
    assert.equal((await sys.store.inbox.get(event.id))?.event.signInLinks?.authorization, event._links.authorization.href);
  });

  it('an event without credentials handed over at once: 2 writes (record, mark)', async () => {
    const { installation, event: installed } = sys.simulator.createInstallation();
    assert.equal((await postCallback(sys.web.callbackUrl, installed)).status, 200);
    const uninstall = sys.simulator.uninstall(installation.id);
    const { answer, writes } = await deliverCounting(uninstall);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(
      writes.map((w) => w.what),
      [`${COLLECTIONS.inbox} insert`, `${COLLECTIONS.inbox} update`],
    );
    assert.ok((await sys.store.inbox.get(uninstall.id))?.dispatchedAt instanceof Date);
  });

  it('a redelivery of an app.installed handed over: no write (it is looked up first), answered duplicate', async () => {
    const { event } = sys.simulator.createInstallation();
    assert.equal((await postCallback(sys.web.callbackUrl, event)).status, 200);
    const { answer, writes } = await deliverCounting(event);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json, { status: 'duplicate', eventId: event.id });
    assert.deepEqual(writes, []);
  });

  for (const legacyCopy of [false, true])
    it(`upgrade: a record${legacyCopy ? ' holding its credentials copy (older versions)' : ''} and queue entry the previous version left unmarked are handed over by a redelivery, marked and dequeued`, async () => {
      const { installation, event } = sys.simulator.createInstallation();
      const parsed = parseEvent(event);
      assert.ok(parsed.ok);
      await sys.web.dispatcher.stop(); // this test's hand-over is the callback's, not the dispatcher's
      try {
        // As the previous version stored an event whose hand-over failed: the record, then its queue entry.
        const receivedAt = new Date();
        await sys.store.db.collection(COLLECTIONS.inbox).insertOne({
          _id: event.id as never,
          installationId: installation.id,
          type: event.type,
          createdAt: new Date(event.created_at),
          receivedAt,
          event: toLifecycleEvent(parsed.event),
          // Not read on this path (the workflow's import is not awaited here): its presence alone decides the mark's form.
          ...(legacyCopy ? { credentials: { v: 1, kid: 'k', iv: 'aXY=', tag: 'dGFn', ct: 'Y3Q=' } } : {}),
        });
        await sys.store.db.collection(COLLECTIONS.dispatchQueue).insertOne({
          _id: event.id as never,
          installationId: installation.id,
          createdAt: new Date(event.created_at),
          nextDispatchAt: receivedAt,
        });
        const { answer, writes } = await deliverCounting(event);
        assert.equal(answer.status, 200, answer.text);
        assert.deepEqual(answer.json, { status: 'duplicate', eventId: event.id, dispatched: true });
        assert.deepEqual(
          writes.map((w) => w.what),
          [`${COLLECTIONS.inbox} update`, `${COLLECTIONS.dispatchQueue} delete`],
        );
        // The repeat's insert read the record: without an older version's copy, marked by `_id` alone (any other filter
        // reads the whole inbox on FerretDB); with one, the conditional mark (never rewriting a record already marked).
        assert.deepEqual(writes[0]?.filters, [legacyCopy ? { _id: event.id, dispatchedAt: { $exists: false } } : { _id: event.id }]);
        assert.ok((await sys.store.inbox.get(event.id))?.dispatchedAt instanceof Date, 'marked');
        assert.equal(await sys.store.inbox.queued(event.id), null, 'dequeued');
        const wf = await sys.client.workflow.getHandle(workflowIdFor(installation.id)).describe();
        assert.equal(wf.status.name, 'RUNNING', 'handed to its workflow');
      } finally {
        sys.web.dispatcher.start();
      }
    });
});

describe('callback: a 202 rests on a durable queue entry (FerretDB, command monitoring)', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  before(async () => {
    // One signed request a minute: the second event is past the source's budget, stored and left to the dispatcher.
    sys = await startSystem({ inProcessWorker: false, webMongoUri: monitored(await mongoUri()), webRateLimit: { perMinute: 1, burst: 1 } });
    await sys.web.dispatcher.stop();
  });
  after(() => sys?.close());

  it('an event left to the dispatcher (202) is queued with the majority write concern: a failover cannot roll the entry back', async () => {
    assert.equal((await postCallback(sys.web.callbackUrl, sys.simulator.createInstallation().event)).status, 200);
    const { event } = sys.simulator.createInstallation();
    const { answer, writes } = await deliverCountingOn(sys, event);
    assert.equal(answer.status, 202, answer.text);
    const queued = writes.find((w) => w.what === `${COLLECTIONS.dispatchQueue} update`);
    assert.deepEqual(queued?.concern, { w: 'majority', j: true, wtimeout: 5_000 }, JSON.stringify(writes));
  });
});
