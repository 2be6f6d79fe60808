import assert from 'node:assert/strict';
import { postCallback } from '../support/callback-client';
import { startSystem, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';

/** The hand-over's mark is written after the answer, off the acknowledgement's path (docs/handover.md). */
describe('callback: the hand-over is marked after the answer', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  before(async () => {
    sys = await startSystem();
    // The dispatcher's start-up pass queues every record not marked yet: done before, so that it
    // cannot queue the event whose mark this test holds.
    await sys.web.dispatcher.runOnce();
  });
  after(() => sys?.close());

  it('answers 200 while the mark is held; the mark lands once released, and afterAnswered waits for it', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    const inbox = sys.webStore.inbox;
    const mark = inbox.markDispatched.bind(inbox);
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let marksBegun = 0;
    inbox.markDispatched = async (eventId, options) => {
      marksBegun += 1;
      await held;
      return mark(eventId, options);
    };
    try {
      const accepted = await postCallback(sys.web.callbackUrl, event);
      assert.equal(accepted.status, 200, accepted.text);
      assert.deepEqual(accepted.json, { status: 'accepted', eventId: event.id, dispatched: true });
      assert.equal(marksBegun, 1, 'the mark had begun');
      assert.equal((await sys.store.inbox.get(event.id))?.dispatchedAt, undefined, 'answered before the mark landed');
      await waitForPhase(sys.client, installation.id, 'active');

      let drained = false;
      const draining = sys.web.afterAnswered().then(() => (drained = true));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(drained, false, 'afterAnswered waits for the held mark');
      release();
      await draining;
      assert.ok((await sys.store.inbox.get(event.id))?.dispatchedAt instanceof Date, 'marked');
      assert.equal(await sys.store.inbox.queued(event.id), null, 'never queued');
    } finally {
      release();
      inbox.markDispatched = mark;
    }
  });
});
