import assert from 'node:assert/strict';
import { COLLECTIONS, type Database } from '../../src/store';
import { InboxStore, type InboxRecord } from '../../src/handover/inbox';
import { InboxDispatcher, handOverStored } from '../../src/handover/dispatcher';
import { EventCredentialStore } from '../../src/store/event-credentials';
import type { LifecycleEvent } from '../../workflows/definitions';
import { captureLogger } from '../support/logs';
import { eventually } from '../support/waits';
import { inboxRecord, useInboxStores } from '../support/inbox-records';

const stored = (createdAt: Date) => inboxRecord('app.updated', createdAt);

/**
 * The inbox keeps every event; the dispatcher scans only the queue of events not yet
 * handed over (on FerretDB every filter but `{_id}` reads the whole collection).
 */
/** What `insert` answers for a repeat of `r` (a record this version wrote: no older version's credentials copy in it). */
const repeatOf = (r: Pick<InboxRecord, 'event' | 'receivedAt'>, dispatched: boolean) => ({
  stored: 'duplicate',
  dispatched,
  event: r.event,
  receivedAt: r.receivedAt,
  legacyCopy: false,
});

describe('inbox: the dispatch queue (FerretDB)', () => {
  let db: Database;
  let inbox: InboxStore;
  let eventCredentials: EventCredentialStore;
  const queue = () => db.collection<{ _id: string }>(COLLECTIONS.dispatchQueue);

  useInboxStores('queue', (stores) => ({ db, inbox, eventCredentials } = stores));

  it('queues a stored event until it is marked handed over', async () => {
    const e = stored(new Date());
    assert.deepEqual(await inbox.insert(e), { stored: 'stored' });
    assert.equal(await inbox.countUndispatched(), 1);
    assert.deepEqual(
      (await inbox.listUndispatched(10)).map((r) => r._id),
      [e._id],
    );
    await inbox.markDispatched(e._id);
    assert.equal(await inbox.countUndispatched(), 0);
    assert.deepEqual(await inbox.listUndispatched(10), []);
    assert.ok((await inbox.get(e._id))?.dispatchedAt, 'the inbox keeps the event, marked handed over');
  });

  it('lists due events oldest first, and not one whose failed hand-over is backed off', async () => {
    const t = Date.now() - 60_000;
    const [late, early, backedOff] = [stored(new Date(t + 2_000)), stored(new Date(t)), stored(new Date(t + 1_000))];
    for (const e of [late, early, backedOff]) await inbox.insert(e);
    await inbox.recordDispatchFailure(backedOff._id, 1, new Date(Date.now() + 60_000), 'Error: Temporal down');
    assert.deepEqual(
      (await inbox.listUndispatched(10)).map((r) => r._id),
      [early._id, late._id],
    );
    assert.deepEqual(
      (await inbox.listUndispatched(10, new Date(Date.now() + 120_000))).map((r) => r._id),
      [early._id, backedOff._id, late._id],
    );
    const failed = await inbox.queued(backedOff._id);
    assert.equal(failed?.dispatchAttempts, 1);
    assert.equal(failed?.lastDispatchError, 'Error: Temporal down');
  });

  it('a repeated delivery is a duplicate: queued again while not handed over, not queued once it was', async () => {
    const e = stored(new Date());
    await inbox.insert(e);
    // Its queue entry was lost (the queue write failed after the inbox write).
    await queue().deleteOne({ _id: e._id });
    assert.deepEqual(await inbox.insert(e), repeatOf(e, false));
    assert.equal(await inbox.countUndispatched(), 1, 'queued again');
    await inbox.markDispatched(e._id);
    assert.deepEqual(await inbox.insert(e), repeatOf(e, true));
    assert.equal(await inbox.countUndispatched(), 0, 'a handed-over event is not queued again');
  });

  it('upgrade: a record and queue entry the previous version left unmarked are handed over by the dispatcher, marked and dequeued', async () => {
    const e = stored(new Date());
    // As the previous version stored an event whose hand-over failed: the record, then its queue entry.
    await db.collection(COLLECTIONS.inbox).insertOne({ ...e, _id: e._id as never });
    await queue().insertOne({
      _id: e._id,
      installationId: e.installationId,
      createdAt: e.createdAt,
      nextDispatchAt: e.receivedAt,
    } as never);
    const handed: string[] = [];
    const { logger } = captureLogger('dispatcher');
    const dispatcher = new InboxDispatcher(inbox, async (event) => void handed.push(event.eventId), logger, { intervalMs: 60_000 });
    assert.equal(await dispatcher.runOnce(), 1);
    assert.deepEqual(handed, [e._id]);
    assert.ok((await inbox.get(e._id))?.dispatchedAt instanceof Date, 'marked');
    assert.equal(await inbox.countUndispatched(), 0, 'dequeued');
    assert.equal(await dispatcher.runOnce(), 0, 'not handed over again');
  });

  it('stored without a queue entry (the callback hands over first): the backstop queues it only while it is not marked', async () => {
    const [handedOver, pending] = [stored(new Date()), stored(new Date())];
    for (const e of [handedOver, pending]) assert.deepEqual(await inbox.insert(e, undefined, { queue: false }), { stored: 'stored' });
    assert.equal(await inbox.countUndispatched(), 0, 'nothing queued');
    await inbox.markDispatched(handedOver._id, { record: {}, dequeue: false });
    assert.ok((await inbox.get(handedOver._id))?.dispatchedAt instanceof Date);
    assert.equal(await inbox.requeueUndispatched(), 1);
    assert.deepEqual(
      (await inbox.listUndispatched(10)).map((r) => r._id),
      [pending._id],
    );
    assert.deepEqual(await inbox.insert(pending, undefined, { queue: false }), repeatOf(pending, false));
  });

  it('requeueUndispatched queues stored events that have no queue entry, once', async () => {
    const [a, b, c] = [stored(new Date()), stored(new Date()), stored(new Date())];
    for (const e of [a, b, c]) await inbox.insert(e);
    await inbox.markDispatched(c._id);
    await queue().deleteMany({});
    assert.equal(await inbox.countUndispatched(), 0);
    assert.equal(await inbox.requeueUndispatched(), 2);
    assert.equal(await inbox.requeueUndispatched(), 0, 'already queued');
    assert.deepEqual((await inbox.listUndispatched(10)).map((r) => r._id).sort(), [a._id, b._id].sort());
    // Read to the end, batch after batch: one without an entry behind any number of queued ones is found.
    const late = stored(new Date());
    await inbox.insert(late, undefined, { queue: false });
    assert.equal(await inbox.requeueUndispatched(1), 1);
    assert.equal(await inbox.countUndispatched(), 3);
  });

  it('drops a queue entry left behind by a hand-over that was marked but not dequeued', async () => {
    const e = stored(new Date());
    await inbox.insert(e);
    await db.collection(COLLECTIONS.inbox).updateOne({ _id: e._id as never }, { $set: { dispatchedAt: new Date() } });
    assert.equal(await inbox.countUndispatched(), 1);
    assert.deepEqual(await inbox.listUndispatched(10), [], 'not handed over again');
    assert.equal(await inbox.countUndispatched(), 0, 'the stale entry is gone');
  });

  it("the dispatcher's first pass queues what the queue lacks, then hands it over", async () => {
    const e = stored(new Date());
    await inbox.insert(e);
    await queue().deleteMany({});
    const handed: LifecycleEvent[] = [];
    const { logger, lines } = captureLogger('dispatcher');
    const dispatcher = new InboxDispatcher(inbox, async (event) => void handed.push(event), logger, { intervalMs: 60_000 });
    assert.equal(await dispatcher.runOnce(), 1);
    assert.deepEqual(
      handed.map((h) => h.eventId),
      [e._id],
    );
    assert.ok((await inbox.get(e._id))?.dispatchedAt);
    assert.ok(
      lines.some((l) => l.includes('queued for hand-over')),
      'the adoption is logged',
    );
    assert.equal(await dispatcher.runOnce(), 0);
  });

  it("retries what an outage backed off as soon as Temporal answers a hand-over again, not at the backoff's end", async () => {
    const e = stored(new Date());
    await inbox.insert(e);
    let temporalUp = false;
    const handed: string[] = [];
    const { logger } = captureLogger('dispatcher');
    const dispatcher = new InboxDispatcher(
      inbox,
      async (event) => {
        if (!temporalUp) throw new Error('Temporal unavailable');
        handed.push(event.eventId);
      },
      logger,
      { intervalMs: 60_000 },
    );
    assert.equal(await dispatcher.runOnce(), 0, 'the outage');
    const failed = await inbox.queued(e._id);
    assert.equal(failed?.dispatchAttempts, 1);
    assert.ok((failed?.nextDispatchAt.getTime() ?? 0) > Date.now() + 60_000, 'backed off for two intervals');
    temporalUp = true;
    assert.equal(await dispatcher.runOnce(), 0, 'still backed off: nothing told the dispatcher');
    dispatcher.temporalAnswered(); // the callback handed another event over
    assert.equal(await dispatcher.runOnce(), 1);
    assert.deepEqual(handed, [e._id]);
    assert.equal(await inbox.countUndispatched(), 0);
  });

  it("keeps an event's credentials apart from its record; a redelivery after the hand-over does not store them again", async () => {
    const blob = { v: 1 as const, kid: 'k', iv: 'aXY=', tag: 'dGFn', ct: 'Y3Q=' };
    const e = stored(new Date());
    await inbox.insert(e, { clientId: 'c', secret: blob });
    assert.equal((await inbox.get(e._id))?.credentials, undefined, 'not in the inbox record');
    assert.deepEqual(await eventCredentials.get(e._id), { secret: blob, inInbox: false });
    await eventCredentials.delete(e._id); // imported
    await inbox.markDispatched(e._id);
    assert.deepEqual(await inbox.insert(e, { clientId: 'c', secret: blob }), repeatOf(e, true));
    assert.equal(await eventCredentials.get(e._id), undefined, 'imported credentials do not come back');
  });

  it('reads credentials an older version kept in the inbox record, and moves them out once the record is marked', async () => {
    const blob = { v: 1 as const, kid: 'k', iv: 'aXY=', tag: 'dGFn', ct: 'Y3Q=' };
    const marked = stored(new Date());
    const waiting = stored(new Date());
    const legacy = db.collection<InboxRecord>(COLLECTIONS.inbox);
    // Credentials came with events that name their client id.
    const withClient = (r: typeof marked) => ({ ...r, event: { ...r.event, facts: { client_id: 'c' } } as InboxRecord['event'] });
    await legacy.insertOne({ ...withClient(marked), credentials: blob, dispatchedAt: new Date() });
    await legacy.insertOne({ ...withClient(waiting), credentials: { ...blob, iv: 'aXZ2' } });
    assert.deepEqual(await eventCredentials.get(marked._id), { secret: blob, inInbox: true }, 'read from the inbox record');
    assert.equal(await inbox.moveLegacyCredentials(), 1, 'the marked record only');
    assert.equal((await inbox.get(marked._id))?.credentials, undefined);
    assert.deepEqual(await eventCredentials.get(marked._id), { secret: blob, inInbox: false });
    assert.ok((await inbox.get(marked._id))?.dispatchedAt, 'still marked');
    assert.equal(await inbox.moveLegacyCredentials(), 0, 'once');

    // The record not marked yet keeps its copy until its import, which marks it (its workflow holds it).
    assert.equal((await eventCredentials.get(waiting._id))?.inInbox, true);
    await inbox.dropLegacyCredentials(waiting._id);
    const after = await inbox.get(waiting._id);
    assert.equal(after?.credentials, undefined);
    assert.ok(after?.dispatchedAt instanceof Date);
    assert.equal(await eventCredentials.get(waiting._id), undefined);
  });

  it("an installation's destroy drops the copies older versions kept in its marked records, but those it is told to keep", async () => {
    const blob = { v: 1 as const, kid: 'k', iv: 'aXY=', tag: 'dGFn', ct: 'Y3Q=' };
    const endedAt = new Date(Date.now() - 60_000);
    const ended = stored(endedAt);
    const install = (createdAt: Date) => ({ ...stored(createdAt), installationId: ended.installationId, type: 'app.installed' as const });
    const reinstall = { ...stored(new Date()), installationId: ended.installationId };
    const newerInstall = install(new Date(endedAt.getTime() + 1_000)); // stored, not yet handed over: kept by time
    const olderInstall = install(new Date(endedAt.getTime() - 1_000)); // superseded by the ended event: dropped
    const legacy = db.collection<InboxRecord>(COLLECTIONS.inbox);
    const withClient = (r: typeof ended) => ({ ...r, event: { ...r.event, facts: { client_id: 'c' } } as InboxRecord['event'] });
    for (const r of [ended, reinstall, newerInstall, olderInstall]) {
      await legacy.insertOne({ ...withClient(r), credentials: blob, dispatchedAt: new Date() });
    }
    const kept = { except: [reinstall._id], keepNewerThan: endedAt };
    const dropped = await inbox.moveLegacyCredentials({ installationId: ended.installationId, drop: true, kept });
    assert.equal(dropped, 2);
    for (const r of [ended, olderInstall]) assert.equal(await eventCredentials.get(r._id), undefined, 'dropped, not moved');
    for (const r of [reinstall, newerInstall]) {
      assert.deepEqual(await eventCredentials.get(r._id), { secret: blob, inInbox: true }, 'kept where it was');
    }
  });

  it('after a pass that handed over a full batch the next pass runs at once, not an interval later (a wave past the budget)', async () => {
    await queue().deleteMany({});
    const events = Array.from({ length: 5 }, (_, i) => stored(new Date(Date.now() - 10_000 + i)));
    for (const e of events) await inbox.insert(e);
    const handed: string[] = [];
    const { logger } = captureLogger('dispatcher');
    const intervalMs = 300;
    // The delays the dispatcher asks for, not the time it took: no bound on a loaded machine's speed.
    const delays: number[] = [];
    const schedule = (run: () => void, delayMs: number) => (delays.push(delayMs), setTimeout(run, delayMs));
    const dispatcher = new InboxDispatcher(inbox, async (event) => void handed.push(event.eventId), logger, {
      intervalMs,
      batchSize: 2,
      schedule,
    });
    dispatcher.start();
    try {
      // Batches of 2, 2, 1: one interval, then two passes at once (before, an interval each), then the interval again.
      await eventually('all five handed over and the next pass scheduled', async () =>
        handed.length === 5 && delays.length >= 4 ? true : undefined,
      );
      assert.deepEqual(delays.slice(0, 4), [intervalMs, 0, 0, intervalMs]);
    } finally {
      await dispatcher.stop();
    }
  });

  it("reconciliation's backstop: one failing hand-over is reported, the other events are still handed over", async () => {
    const events = [stored(new Date(Date.now() - 3_000)), stored(new Date(Date.now() - 2_000)), stored(new Date(Date.now() - 1_000))];
    for (const e of events) await inbox.insert(e);
    const bad = events[1]!._id;
    const handed: string[] = [];
    const result = await handOverStored(
      inbox,
      async (event) => {
        if (event.eventId === bad) throw new Error('workflow failed: InstallationStepFailed (mongodb://app:hunter2@db.internal:27017)');
        handed.push(event.eventId);
      },
      10,
    );
    assert.equal(result.handed, 2);
    assert.deepEqual(handed, [events[0]!._id, events[2]!._id]);
    assert.deepEqual(
      result.failed.map((f) => [f.eventId, f.installationId]),
      [[bad, events[1]!.installationId]],
    );
    assert.match(result.failed[0]?.message ?? '', /InstallationStepFailed/);
    assert.doesNotMatch(result.failed[0]?.message ?? '', /hunter2/, "a connection string's password is not kept (a Temporal payload)");
    assert.deepEqual(
      (await inbox.listUndispatched(10)).map((r) => r._id),
      [bad],
      'the failed event stays queued for the next pass',
    );
  });

  it("an event held for Talkdesk's redeliveries (notBefore) is not handed over before then, not by reconciliation's backstop either", async () => {
    const held = stored(new Date(Date.now() - 2_000));
    const other = stored(new Date(Date.now() - 1_000));
    await inbox.insert(held, undefined, { queue: false });
    await inbox.enqueue(held, new Date(Date.now() + 16 * 60_000));
    await inbox.insert(other);
    const handed: string[] = [];
    const result = await handOverStored(inbox, async (event) => void handed.push(event.eventId), 10, { requeue: false });
    assert.deepEqual(handed, [other._id], 'only the event not held');
    assert.equal(result.handed, 1);
    assert.ok(await inbox.queued(held._id), 'the held event stays queued');
    // Once its time has come, any pass hands it over.
    await queue().updateOne({ _id: held._id }, { $set: { nextDispatchAt: new Date(Date.now() - 1), heldUntil: new Date(Date.now() - 1) } });
    assert.deepEqual(
      (await inbox.listUndispatched(10)).map((r) => r._id),
      [held._id],
    );
  });

  it('a pass waiting on a store call that never returns is abandoned at its limit: the next pass hands over, stop() returns', async () => {
    const e = stored(new Date(Date.now() - 1_000));
    await inbox.insert(e);
    const list = inbox.listUndispatched.bind(inbox);
    let lists = 0;
    // The first listing never answers, as a command written to a destroyed socket (src/store/watchdog.ts).
    inbox.listUndispatched = (...args) => (++lists === 1 ? new Promise<never>(() => undefined) : list(...args));
    const handed: string[] = [];
    const { logger, lines } = captureLogger('dispatcher');
    const dispatcher = new InboxDispatcher(inbox, async (event) => void handed.push(event.eventId), logger, {
      intervalMs: 100,
      passLimitMs: 500,
    });
    dispatcher.start();
    try {
      await eventually('the event handed over by a later pass', async () => (handed.includes(e._id) ? true : undefined), 10_000);
      assert.ok(lines.some((l) => l.includes('dispatcher pass abandoned')));
    } finally {
      await dispatcher.stop();
    }
  });
});
