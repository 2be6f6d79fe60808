import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ReadWindow } from '../../activities/reconcile-pacing';

/** Reconciliation's reads per minute on a worker, whatever the slots of a late pass allow. */
describe('reconciliation read window', () => {
  it('starts at most perMinute reads in any window: the next waits (heartbeating) for the oldest to leave it', async () => {
    const window = new ReadWindow(400);
    const started: number[] = [];
    const beats: unknown[] = [];
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: unknown) => beats.push(d));
    // Five reads asked for at once, as pages whose slots are all open ask for them.
    await env.run(async () => {
      await Promise.all(
        Array.from({ length: 5 }, async () => {
          started.push(await window.take(2, 'budget'));
        }),
      );
    });
    assert.equal(started.length, 5);
    for (let i = 2; i < started.length; i++) {
      assert.ok(started[i]! - started[i - 2]! >= 400, `read ${i + 1} started ${started[i]! - started[i - 2]!} ms after read ${i - 1}`);
    }
    assert.ok(beats.includes('budget'), 'the wait heartbeats');
  });

  it('reads below the budget do not wait', async () => {
    const window = new ReadWindow(60_000);
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => (beats += 1));
    await env.run(async () => {
      for (let i = 0; i < 120; i++) await window.take(120, 'budget');
    });
    assert.equal(beats, 0, 'no wait: a wait heartbeats first');
  });
});
