import assert from 'node:assert/strict';
import { DAY_MS, plausiblePrunedBefore } from '../../src/store/inbox-retention';
import { checkEventTime } from '../../src/web/event-time';

/** The callback's bounds on `created_at`, the inbox's pruned-before marker among them (src/web/event-time.ts). */
describe("a callback event's time", () => {
  const now = Date.parse('2026-12-05T12:00:00Z');
  const at = (daysAgo: number) => new Date(now - daysAgo * DAY_MS).toISOString();

  it('is refused before where the inbox was pruned, even within the (raised) retention; taken after it', () => {
    const limits = { maxAgeMs: 30 * DAY_MS, prunedBeforeMs: now - 10 * DAY_MS };
    assert.equal(checkEventTime(at(15), now, limits)?.code, 'event_too_old');
    assert.match(checkEventTime(at(15), now, limits)?.message ?? '', /already pruned from the inbox/);
    assert.equal(checkEventTime(at(9), now, limits), undefined);
    assert.equal(checkEventTime(at(31), now, { maxAgeMs: 30 * DAY_MS })?.code, 'event_too_old', 'the retention itself, as before');
  });

  it('ignores a pruned-before marker no sweep could have written (a clock ran ahead), which would refuse every event', () => {
    assert.equal(plausiblePrunedBefore(new Date(now - 10 * DAY_MS), now), now - 10 * DAY_MS);
    assert.equal(plausiblePrunedBefore(new Date(now - 8 * DAY_MS), now), now - 8 * DAY_MS, 'the shortest retention allowed');
    assert.equal(plausiblePrunedBefore(new Date(now - 7 * DAY_MS), now), undefined);
    assert.equal(plausiblePrunedBefore(new Date(now + DAY_MS), now), undefined);
    assert.equal(plausiblePrunedBefore(undefined, now), undefined);
  });
});
