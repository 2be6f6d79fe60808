import assert from 'node:assert/strict';

import { PeriodicTask } from '../../src/web/periodic';
import { captureLogger } from '../support/logs';
import { eventually, settledWithin } from '../support/waits';

/** The web process's periodic sweeps (src/web/periodic.ts): a stop waits for a run under way, within a limit. */
describe('periodic task: stopping', () => {
  it('waits for a run under way to end', async () => {
    const { logger } = captureLogger();
    let started = false;
    let ended = false;
    const task = new PeriodicTask(
      'a sweep',
      async () => {
        started = true;
        await new Promise((resolve) => setTimeout(resolve, 100));
        ended = true;
      },
      logger,
      60_000,
    );
    task.start();
    await eventually('the run under way', async () => started || undefined, 5_000);
    await task.stop(10_000);
    assert.equal(ended, true);
  });

  it('does not wait past its limit for a run that never ends (a store that does not answer)', async () => {
    const { logger } = captureLogger();
    let started = false;
    const task = new PeriodicTask(
      'a stuck sweep',
      () => {
        started = true;
        return new Promise<void>(() => undefined);
      },
      logger,
      60_000,
    );
    task.start();
    await eventually('the run under way', async () => started || undefined, 5_000);
    // Within its limit of 50 ms, far below the default wait (10 s): the run never ends.
    assert.ok(await settledWithin(task.stop(50), 2_000), 'stop(50) returned within 2 s');
  });
});
