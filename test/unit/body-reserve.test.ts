import assert from 'node:assert/strict';
import { BodyBytesInFlight, PROVEN_SOURCE_MS, PROVEN_SOURCES_MAX } from '../../src/web/raw-body';

/** The reserve of the callback bodies' bound (raw-body.ts): only for addresses that delivered a signed body lately. */
describe('callback bodies: the reserve for proven sources', () => {
  it('serves a proven source past the bound, up to the reserve; an unproven one never; the bytes come back to their pool', () => {
    const bound = new BodyBytesInFlight(100, 100, 30);
    assert.equal(bound.take(100, 'flood'), 'main');
    assert.equal(bound.take(10, 'new'), undefined, 'unproven: refused past the bound');
    bound.prove('talkdesk');
    assert.equal(bound.take(20, 'talkdesk'), 'reserve');
    assert.equal(bound.take(20, 'talkdesk'), undefined, 'not past the reserve');
    assert.equal(bound.bytes, 120);
    bound.give(20, 'talkdesk', 'reserve');
    bound.give(100, 'flood', 'main');
    assert.equal(bound.bytes, 0);
    assert.equal(bound.take(100, 'new'), 'main', 'the bound is whole again');
  });

  it('forgets a proven source after PROVEN_SOURCE_MS, and the oldest past PROVEN_SOURCES_MAX', () => {
    let now = 0;
    const bound = new BodyBytesInFlight(0, 0, 10, () => now);
    bound.prove('talkdesk');
    now = PROVEN_SOURCE_MS - 1;
    assert.equal(bound.take(1, 'talkdesk'), 'reserve');
    now = PROVEN_SOURCE_MS;
    assert.equal(bound.take(1, 'talkdesk'), undefined, 'proven no longer');
    for (let i = 0; i <= PROVEN_SOURCES_MAX; i += 1) bound.prove(`s${i}`);
    assert.equal(bound.take(1, 's0'), undefined, 'the oldest forgotten');
    assert.equal(bound.take(1, `s${PROVEN_SOURCES_MAX}`), 'reserve');
    assert.equal(new BodyBytesInFlight(0, 0, 0).take(1, 'any'), undefined, 'no reserve: nothing proven');
  });
});
