import assert from 'node:assert/strict';

import type { Logger } from '../../src/logging/logger';
import { watchStore, type StoreWatchdogOptions } from '../../src/store/watchdog';
import { captureLogger } from '../support/logs';
import { eventually, holdsFor, settledWithin } from '../support/waits';

/** The store watchdog with fake pings: what it does when its process's own client or the store fails. */
describe('store watchdog', () => {
  const fails = () => Promise.reject(Object.assign(new Error('mongodb://user:pw@host'), { name: 'MongoServerSelectionError' }));
  const answers = () => Promise.resolve();
  /** Quick rounds (stuck after 100 ms, a round every 20 ms), the own client failing and a new one answering; `o` overrides. */
  const quickDog = (logger: Logger, o: Partial<StoreWatchdogOptions>) =>
    watchStore({ ping: fails, pingFresh: answers, stuckAfterMs: 100, everyMs: 20, logger, ...o });

  it("stops the worker when its own client keeps failing while a new client reaches the store, without logging the error's text", async () => {
    const { logger, lines } = captureLogger();
    let stuck = 0;
    const dog = watchStore({ ping: fails, pingFresh: answers, stuckAfterMs: 200, everyMs: 20, logger, onStuck: () => (stuck += 1) });
    try {
      await eventually('the watchdog to stop the worker', async () => (stuck > 0 ? true : undefined), 5_000);
      await holdsFor('onStuck called once', () => stuck === 1, 200);
      assert.ok(lines.some((l) => l.includes('not this process: stopping it')));
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
        lines.some((l) => l.includes('answers this process again')) ? true : undefined,
      );
      const triedBefore = fresh;
      await holdsFor('no new client tried while the store answers', () => fresh === triedBefore && stuck === 0, 300);
    } finally {
      await dog.stop();
    }
  });
  it('does not stop a worker whose client answers again right after a new client did (the store came back meanwhile)', async () => {
    const { logger } = captureLogger();
    let stuck = 0;
    let back = false;
    let fresh = 0;
    const dog = watchStore({
      ping: () => (back ? answers() : fails()),
      // The store comes back while the new client asks it: this worker's client answers the next ping.
      pingFresh: () => ((fresh += 1), (back = true), answers()),
      stuckAfterMs: 100,
      everyMs: 20,
      logger,
      onStuck: () => (stuck += 1),
    });
    try {
      await eventually('a new client to be tried', async () => (fresh >= 1 ? true : undefined), 5_000);
      await holdsFor('the worker kept', () => stuck === 0, 300);
    } finally {
      await dog.stop();
    }
  });

  it('counts a ping that never answers as failed, and stops at once however long a ping hangs', async () => {
    const { logger } = captureLogger();
    let stuck = 0;
    const hangs = () => new Promise<void>(() => undefined);
    const dog = watchStore({
      ping: hangs,
      pingFresh: answers,
      stuckAfterMs: 100,
      everyMs: 20,
      pingTimeoutMs: 50,
      logger,
      onStuck: () => (stuck += 1),
    });
    await eventually('the watchdog to stop the worker', async () => (stuck > 0 ? true : undefined), 5_000);
    // stop() does not wait for the hung ping: well before the ping's own timeout would end it.
    assert.ok(await settledWithin(dog.stop(), 3_000), 'stop() returned within 3 s');

    let pinged = false;
    const idle = watchStore({
      ping: () => ((pinged = true), hangs()),
      pingFresh: answers,
      stuckAfterMs: 60_000,
      everyMs: 10,
      logger,
      onStuck: () => undefined,
    });
    await eventually('a round (and its hung ping) in flight', async () => (pinged ? true : undefined), 5_000);
    // Returns while the ping hangs: its timeout (10 s, the least of 10 s and stuckAfterMs) has not come.
    assert.ok(await settledWithin(idle.stop(), 3_000), 'stop() returned within 3 s');
  });

  it('the worker mode reconnects in place first, and stops the worker only when the reconnected client stays stuck', async () => {
    const { logger, lines } = captureLogger();
    let reconnects = 0;
    let stuck = 0;
    const dog = quickDog(logger, {
      reconnect: async () => void (reconnects += 1),
      onStuck: () => (stuck += 1),
    });
    try {
      await eventually('the worker to be stopped', async () => (stuck > 0 ? true : undefined), 5_000);
      assert.equal(reconnects, 1, 'one reconnect before the stop');
      await holdsFor('stopped once, no reconnect after', () => stuck === 1 && reconnects === 1, 200);
      const reconnectAt = lines.findIndex((l) => l.includes('reconnecting its client'));
      const stopAt = lines.findIndex((l) => l.includes('not this process: stopping it'));
      assert.ok(reconnectAt >= 0 && stopAt > reconnectAt, lines.join('\n'));
    } finally {
      await dog.stop();
    }
  });

  it('the worker mode keeps a worker whose reconnected client answers, and reconnects first again in a later streak', async () => {
    const { logger } = captureLogger();
    let reconnects = 0;
    let stuck = 0;
    let healthy = false;
    const dog = quickDog(logger, {
      ping: () => (healthy ? answers() : fails()),
      // Each reconnect heals the client for a while.
      reconnect: async () => {
        reconnects += 1;
        healthy = true;
      },
      onStuck: () => (stuck += 1),
    });
    try {
      await eventually('a first reconnect', async () => (reconnects === 1 ? true : undefined), 5_000);
      await holdsFor('the healed worker kept', () => stuck === 0, 200);
      // Stuck again later: a new streak, whose first verdict reconnects again rather than stopping.
      healthy = false;
      await eventually('a second reconnect', async () => (reconnects === 2 ? true : undefined), 5_000);
      await holdsFor('the worker still kept', () => stuck === 0, 200);
    } finally {
      await dog.stop();
    }
  });

  it('the worker mode stops the worker when the reconnect itself fails', async () => {
    const { logger } = captureLogger();
    let stuck = 0;
    let reconnects = 0;
    const dog = quickDog(logger, {
      reconnect: async () => {
        reconnects += 1;
        throw Object.assign(new Error('closed'), { name: 'MongoNetworkError' });
      },
      onStuck: () => (stuck += 1),
    });
    try {
      await eventually('the worker to be stopped', async () => (stuck > 0 ? true : undefined), 5_000);
      assert.equal(reconnects, 1);
    } finally {
      await dog.stop();
    }
  });

  it('the web mode reconnects the client and watches on: once again if the reconnected client is stuck too, never while it answers', async () => {
    const { logger, lines } = captureLogger();
    let reconnects = 0;
    // Stuck until the second reconnect; the first reconnect fails outright.
    const dog = quickDog(logger, {
      ping: () => (reconnects >= 2 ? answers() : fails()),
      reconnect: async () => {
        reconnects += 1;
        if (reconnects === 1) throw Object.assign(new Error('mongodb://user:pw@host'), { name: 'MongoNetworkError' });
      },
    });
    try {
      await eventually('two reconnects', async () => (reconnects >= 2 ? true : undefined), 5_000);
      await holdsFor('no reconnect while the client answers', () => reconnects === 2, 300);
      assert.ok(lines.some((l) => l.includes('reconnecting its client')));
      assert.ok(lines.some((l) => l.includes('reconnecting the store client failed')));
      assert.ok(!lines.some((l) => l.includes('user:pw')));
    } finally {
      await dog.stop();
    }
  });
});
