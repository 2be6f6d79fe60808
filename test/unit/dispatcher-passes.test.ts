import assert from 'node:assert/strict';
import { InboxDispatcher } from '../../src/handover/dispatcher';
import type { InboxStore } from '../../src/handover/inbox';
import { captureLogger } from '../support/logs';

/** A listing held until released, one per call. */
function heldListings() {
  const releases: (() => void)[] = [];
  const inbox = {
    requeueUndispatched: async () => 0,
    listUndispatched: () =>
      new Promise<never[]>((resolve) => {
        releases.push(() => resolve([]));
      }),
  } as unknown as InboxStore;
  return { inbox, releases };
}

describe('inbox dispatcher: passes never overlap, even after one is abandoned', () => {
  it('an abandoned pass that settles late leaves the next pass running: no third pass overlaps it', async () => {
    const { inbox, releases } = heldListings();
    const { logger, lines } = captureLogger('dispatcher');
    const d = new InboxDispatcher(inbox, async () => undefined, logger, { intervalMs: 60_000, passLimitMs: 100 });
    const limited = (d as unknown as { limitedPass(): Promise<number> }).limitedPass.bind(d);
    const first = d.runOnce();
    assert.equal(await limited(), 0, 'the first pass, held past its limit, is abandoned');
    assert.ok(lines.some((l) => l.includes('dispatcher pass abandoned')));
    const second = d.runOnce();
    assert.notEqual(second, first, 'the next pass runs');
    assert.equal(d.runOnce(), second, 'while it runs, a pass asked for is that one');
    releases[0]?.();
    assert.equal(await first, 0, 'the abandoned pass settles late');
    assert.equal(d.runOnce(), second, 'the second pass is still the one running: none overlaps it');
    assert.equal(releases.length, 2, 'two listings, not three');
    releases[1]?.();
    assert.equal(await second, 0);
    assert.notEqual(d.runOnce(), second, 'once it settled, the next pass is a new one');
    releases[2]?.();
    await d.stop();
  });
});

describe('inbox dispatcher: a hand-over whose mark fails', () => {
  it('counts as handed over (no backoff, no attempt, the pass goes on); the mark is tried again by the next pass', async () => {
    const record = (id: string) => ({ _id: id, installationId: `inst-${id}`, dispatchAttempts: 0, event: { eventId: id } });
    let due = [record('e1'), record('e2')];
    const marked: string[] = [];
    const failures: string[] = [];
    let storeDown = true;
    const inbox = {
      requeueUndispatched: async () => 0,
      listUndispatched: async () => due,
      markDispatched: async (id: string) => {
        if (storeDown && id === 'e1') throw new Error('store blip');
        marked.push(id);
      },
      recordDispatchFailure: async (id: string) => void failures.push(id),
    } as unknown as InboxStore;
    const dispatched: string[] = [];
    const { logger } = captureLogger('dispatcher');
    const d = new InboxDispatcher(inbox, async (e) => void dispatched.push(e.eventId), logger, { intervalMs: 60_000 });
    assert.equal(await d.runOnce(), 2, 'both handed over');
    assert.deepEqual(dispatched, ['e1', 'e2'], 'the pass went on past the failed mark');
    assert.deepEqual(failures, [], 'no backoff: the hand-over succeeded');
    assert.deepEqual(marked, ['e2']);
    assert.equal(d.unmarkedCount, 1);
    // Still listed (its queue entry stays until marked): not handed over again while its mark waits.
    due = [record('e1')];
    assert.equal(await d.runOnce(), 0);
    assert.deepEqual(dispatched, ['e1', 'e2'], 'no second hand-over of e1');
    storeDown = false;
    due = [];
    assert.equal(await d.runOnce(), 0);
    assert.deepEqual(marked, ['e2', 'e1'], 'marked by the next pass');
    assert.equal(d.unmarkedCount, 0);
    await d.stop();
  });
});
