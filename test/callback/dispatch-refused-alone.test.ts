import assert from 'node:assert/strict';
import { InboxStore } from '../../src/handover/inbox';
import { InboxDispatcher } from '../../src/handover/dispatcher';
import { captureLogger } from '../support/logs';
import { inboxRecord, useInboxStores } from '../support/inbox-records';

const stored = (createdAt: Date) => inboxRecord('app.updated', createdAt);

/**
 * The dispatcher's woken passes (Temporal answered a hand-over again) and an event Temporal refuses on its own (a
 * limit of its workflow): the events queued behind it are still handed over, and it keeps its backoff (FerretDB).
 */
describe('inbox: an event Temporal refuses alone', () => {
  let inbox: InboxStore;
  useInboxStores('refused-alone', (stores) => ({ inbox } = stores));

  it('an event Temporal refuses alone does not stop the woken passes a steady stream of hand-overs brings, nor lose its backoff', async () => {
    const t0 = Date.now() - 60_000;
    const [refused, second, third] = [0, 1, 2].map((i) => stored(new Date(t0 + i * 1_000)));
    assert.ok(refused && second && third);
    for (const e of [refused, second, third]) await inbox.insert(e);
    let temporalUp = false;
    const tries: string[] = [];
    const { logger } = captureLogger('dispatcher');
    const dispatcher = new InboxDispatcher(
      inbox,
      async (event) => {
        tries.push(event.eventId);
        // Its workflow's own limit (say, too many signals): refused whether Temporal is up or not.
        if (!temporalUp || event.eventId === refused._id) throw new Error('refused');
      },
      logger,
      { intervalMs: 60_000 },
    );
    assert.equal(await dispatcher.runOnce(), 0, 'the outage: the pass stops at its first failure');
    assert.deepEqual(tries, [refused._id]);
    temporalUp = true;
    dispatcher.temporalAnswered(); // the callback handed another event over
    assert.equal(await dispatcher.runOnce(), 2, 'woken: the oldest refused again, the events behind it handed over');
    assert.deepEqual(tries.slice(1), [refused._id, second._id, third._id]);
    // Another event queued (its callback's hand-over failed), and the callbacks keep handing events over.
    const fourth = stored(new Date());
    await inbox.insert(fourth);
    await inbox.recordDispatchFailure(fourth._id, 1, new Date(Date.now() + 120_000), 'Error');
    dispatcher.temporalAnswered();
    assert.equal(await dispatcher.runOnce(), 1);
    assert.deepEqual(tries.slice(4), [fourth._id], 'the refused event left to its backoff, not retried at every wake');
    assert.equal((await inbox.queued(refused._id))?.dispatchAttempts, 2);
  });
});
