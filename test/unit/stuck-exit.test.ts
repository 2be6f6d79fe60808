import assert from 'node:assert/strict';
import { stopWhenStuck } from '../../src/worker/stuck-exit';
import { captureLogger } from '../support/logs';
import { eventually } from '../support/waits';

/** A worker the store watchdog stops (src/worker/stuck-exit.ts): drained, and exited 1 if the drain never ends. */
describe('a worker stopped for a stuck store client', () => {
  it('asks the worker to drain, and exits 1 once the grace and the margin have passed without the process stopping', async () => {
    const { logger, lines } = captureLogger();
    let shutdowns = 0;
    const exits: number[] = [];
    // Its drain never ends: an activity waits on the stuck client.
    const worker = { getState: () => (shutdowns > 0 ? 'STOPPING' : 'RUNNING'), shutdown: () => void (shutdowns += 1) };
    stopWhenStuck(worker, { graceMs: 50, marginMs: 50, logger, exit: (code) => void exits.push(code) });
    assert.equal(shutdowns, 1, 'the drain asked at once');
    assert.deepEqual(exits, [], 'not before the grace');
    await eventually('the exit', async () => (exits.length > 0 ? true : undefined), 10_000);
    assert.deepEqual(exits, [1]);
    assert.ok(lines.some((l) => l.includes('did not stop after its store client got stuck')));
  });

  it('does not ask a worker already stopping to shut down again', () => {
    const { logger } = captureLogger();
    let shutdowns = 0;
    const exits: number[] = [];
    stopWhenStuck(
      { getState: () => 'STOPPING', shutdown: () => void (shutdowns += 1) },
      { graceMs: 60_000, logger, exit: (code) => void exits.push(code) },
    );
    assert.equal(shutdowns, 0);
    assert.deepEqual(exits, []);
  });
});
