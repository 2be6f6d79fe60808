import assert from 'node:assert/strict';
import { ExpiringMap } from '../../src/memory/expiring-map';
import { ActiveCredentials } from '../../src/sso/active-credentials';
import type { UsableCredentials } from '../../src/store/credentials';

/** Polls `check` every 10 ms until it holds, for at most `ms`. */
async function until(check: () => boolean, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return check();
}

/** What a process keeps of decrypted secrets goes after its time limit, looked up again or not. */
describe('expiring map of secrets kept in memory', () => {
  it('an entry lives its time from its set; the oldest goes past the size', () => {
    const m = new ExpiringMap<string>(1_000, 2);
    m.set('a', 'A', 0);
    assert.equal(m.get('a', 999), 'A');
    assert.equal(m.get('a', 1_000), undefined, 'expired at its time');
    m.set('a', 'A', 2_000);
    m.set('b', 'B', 2_001);
    m.set('c', 'C', 2_002);
    assert.deepEqual([m.get('a', 2_003), m.get('b', 2_003), m.get('c', 2_003)], [undefined, 'B', 'C'], 'at most two');
  });

  it('an entry past its time is not returned though a later one ahead of it in the map is live (the clock stepped back)', () => {
    const m = new ExpiringMap<string>(1_000, 10);
    m.set('a', 'A', 5_000);
    m.set('b', 'B', 0);
    assert.equal(m.get('b', 2_000), undefined, 'expired at 1000');
    assert.equal(m.get('a', 2_000), 'A');
  });

  it('renewed on each use when asked: an entry in use stays, one unused goes', () => {
    const m = new ExpiringMap<string>(1_000, 10, true);
    m.set('used', 'U', 0);
    m.set('idle', 'I', 0);
    assert.equal(m.get('used', 900), 'U');
    assert.equal(m.get('used', 1_800), 'U', 'renewed at 900');
    assert.equal(m.get('idle', 1_800), undefined);
  });

  it('an entry never looked up again is dropped by the timer at its expiry', async () => {
    const m = new ExpiringMap<string>(30, 10);
    m.set('a', 'A');
    m.set('b', 'B');
    assert.equal(m.size, 2);
    assert.ok(await until(() => m.size === 0), 'swept without a lookup');
    m.set('c', 'C');
    assert.ok(await until(() => m.size === 0), 'the timer is scheduled again for a later entry');
  });

  it("a sign-in's credential set is not held past its minute (here 30 ms) when no sign-in asks again", async () => {
    const creds = { installationId: 'i1', clientId: 'c1' } as UsableCredentials;
    let reads = 0;
    const active = new ActiveCredentials({ usable: async () => ((reads += 1), creds) }, 30);
    assert.equal(await active.usable('i1', 'c1'), creds);
    assert.equal(await active.usable('i1', 'c1'), creds);
    assert.equal(reads, 1, 'reused within its time');
    assert.equal(active.size, 1);
    assert.ok(await until(() => active.size === 0), 'dropped from memory at its expiry');
  });
});
