import assert from 'node:assert/strict';
import { watchStore } from '../../src/worker/store-watchdog';
import { captureLogger } from '../support/logs';
import { eventually, holdsFor } from '../support/waits';

/** The worker's store watchdog with fake pings: what it does when its own client or the store fails. */
describe('worker store watchdog', () => {
  const fails = () => Promise.reject(Object.assign(new Error('mongodb://user:pw@host'), { name: 'MongoServerSelectionError' }));
  const answers = () => Promise.resolve();

  it("stops the worker when its own client keeps failing while a new client reaches the store, without logging the error's text", async () => {
    const { logger, lines } = captureLogger();
    let stuck = 0;
    const dog = watchStore({ ping: fails, pingFresh: answers, stuckAfterMs: 200, everyMs: 20, logger, onStuck: () => (stuck += 1) });
    try {
      await eventually('the watchdog to stop the worker', async () => (stuck > 0 ? true : undefined), 5_000);
      await holdsFor('onStuck called once', () => stuck === 1, 200);
      assert.ok(lines.some((l) => l.includes('not this worker')));
      assert.ok(!lines.some((l) => l.includes('user:pw')));
    } finally {
      await dog.stop();
    }
  });

  it('keeps the worker while a new client fails too (MongoDB down for everyone), and forgets failures once the store answers', async () => {
    const { logger, lines } = captureLogger();
    let stuck = 0;
    let down = true;
    let fresh = 0;
    const dog = watchStore({
      ping: () => (down ? fails() : answers()),
      pingFresh: () => ((fresh += 1), fails()),
      stuckAfterMs: 100,
      everyMs: 20,
      logger,
      onStuck: () => (stuck += 1),
    });
    try {
      await eventually('a new client to be tried', async () => (fresh >= 3 ? true : undefined), 5_000);
      assert.equal(stuck, 0);
      down = false;
      await eventually('the recovery to be logged', async () =>
        lines.some((l) => l.includes('answers this worker again')) ? true : undefined,
      );
      const triedBefore = fresh;
      await holdsFor('no new client tried while the store answers', () => fresh === triedBefore && stuck === 0, 300);
    } finally {
      await dog.stop();
    }
  });
});
