import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ActivityDeps } from '../../activities/deps';
import { newVisit, ReadWindow, TalkdeskPause } from '../../activities/reconcile-pacing';
import { createTalkdeskReader } from '../../activities/reconcile-read';
import type { InstallationRecord } from '../../src/store/installations';
import { TalkdeskHttpError } from '../../src/talkdesk/errors';

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

  it('a read whose host a 429 paused while it waited for its turn gives the turn back, unsent', async () => {
    const window = new ReadWindow(60_000);
    const pause = new TalkdeskPause();
    const rootUrl = 'https://api.talkdesk.test';
    let sent = 0;
    const deps = { store: {}, talkdesk: { getInstallation: () => ((sent += 1), Promise.reject(new Error('not sent'))) } };
    const view = createTalkdeskReader(deps as unknown as ActivityDeps, pause);
    const rec = { _id: 'inst-1', phase: 'active', activeClientId: 'c1', appId: 'app-1', links: { root: rootUrl } } as InstallationRecord;
    const visit = newVisit(async () => {
      const at = await window.take(1, 'budget');
      // Another page of the pass met Talkdesk's 429 for this host while this read waited.
      pause.note(new TalkdeskHttpError({ status: 429, endpoint: 'GET /apps/x/installations/y', retryAfterMs: 60_000 }), rootUrl);
      return { giveBack: () => window.giveBack(at) };
    });
    await assert.rejects(
      new MockActivityEnvironment().run(() => view(rec, visit)),
      { type: 'TalkdeskRateLimited' },
    );
    assert.equal(sent, 0, 'not sent');
    assert.equal(visit.unanswered, true, 'tried, still due');
    assert.equal(window.taken, 0, 'its turn given back: the next read of a 1-a-minute budget does not wait a minute');
  });
});
