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
