import assert from 'node:assert/strict';
import { LICENSED_READ_MAX_PAUSE_MS, LicensedUsersReads } from '../../src/web/launch/licensed-reads';
import { TalkdeskHttpError } from '../../src/talkdesk/errors';
import type { TalkdeskUser } from '../../src/talkdesk/schemas';

describe('licensed-users reads shared by sign-ins', () => {
  const user = { id: 'u1', email: 'u1@example.com', name: 'U1' } as TalkdeskUser;

  it('shares a read per key, never a failed one, and a fresh read does not take an earlier one', async () => {
    const reads = new LicensedUsersReads(60_000);
    let fetches = 0;
    const ok = async () => ((fetches += 1), [user]);
    const [a, b] = await Promise.all([reads.read('i1:c1', ok), reads.read('i1:c1', ok)]);
    assert.equal(fetches, 1);
    assert.equal(a.askedAt, b.askedAt);
    assert.deepEqual([a.shared, b.shared], [false, true]);
    await reads.read('i2:c1', ok);
    assert.equal(fetches, 2, 'another installation reads for itself');
    const fresh = await reads.read('i1:c1', ok, { fresh: true });
    assert.equal(fetches, 3);
    assert.ok(fresh.askedAt >= a.askedAt);
    assert.equal((await reads.read('i1:c1', ok)).askedAt, fresh.askedAt, 'the fresh read is the one shared next');
    // A mapping written after the kept read began (a removal applied since): that read is not taken.
    await reads.read('i1:c1', ok, { notBefore: new Date(fresh.askedAt.getTime() + 1) });
    assert.equal(fetches, 4);
    await reads.read('i1:c1', ok, { notBefore: new Date(0) });
    assert.equal(fetches, 4, 'a read begun since is taken');

    await assert.rejects(
      reads.read('i3:c1', () => Promise.reject(new Error('429'))),
      /429/,
    );
    await reads.read('i3:c1', ok);
    assert.equal(fetches, 5, 'a failed read is not kept');
  });

  it('reads again once the reuse time has passed (none: every read its own)', async () => {
    const reads = new LicensedUsersReads(0);
    let fetches = 0;
    await reads.read('k', async () => ((fetches += 1), [user]));
    await reads.read('k', async () => ((fetches += 1), [user]));
    assert.equal(fetches, 2);
  });

  it('shares a read still under way however long it takes; the reuse time counts from its answer', async () => {
    const reads = new LicensedUsersReads(0); // an answered read is never reused: only one under way is shared
    let fetches = 0;
    let answer: (users: TalkdeskUser[]) => void = () => undefined;
    const slow = () => ((fetches += 1), new Promise<TalkdeskUser[]>((r) => (answer = r)));
    const first = reads.read('k', slow);
    // Another sign-in misses later, the first read still paging through a large account.
    const second = reads.read('k', slow);
    answer([user]);
    assert.deepEqual([(await first).shared, (await second).shared], [false, true]);
    assert.equal(fetches, 1, 'one read under way for both');
    await reads.read('k', async () => ((fetches += 1), [user]));
    assert.equal(fetches, 2, 'answered, and past the reuse time: read again');
  });

  it("Talkdesk's 429 answers every read of its key until its Retry-After has passed (at most ten minutes); other failures are not kept", async () => {
    const reads = new LicensedUsersReads(0);
    let fetches = 0;
    const ok = async () => ((fetches += 1), [user]);
    const limited = (retryAfterMs?: number) => () => (
      (fetches += 1),
      Promise.reject(new TalkdeskHttpError({ status: 429, endpoint: 'GET /x', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }))
    );
    await assert.rejects(reads.read('k', limited(60_000)), { kind: 'rate_limited' });
    await assert.rejects(reads.read('k', ok), { kind: 'rate_limited' }, 'during the pause');
    await assert.rejects(reads.read('k', ok, { fresh: true }), { kind: 'rate_limited' }, 'a fresh read too');
    assert.equal(fetches, 1, 'Talkdesk asked once');
    await reads.read('other', ok);
    assert.equal(fetches, 2, 'another key reads');

    await assert.rejects(reads.read('no-wait', limited()), { kind: 'rate_limited' });
    await reads.read('no-wait', ok);
    assert.equal(fetches, 4, 'a 429 without Retry-After is not kept');
    const server = () => ((fetches += 1), Promise.reject(new TalkdeskHttpError({ status: 503, endpoint: 'GET /x', retryAfterMs: 60_000 })));
    await assert.rejects(reads.read('5xx', server), { kind: 'server_error' });
    await reads.read('5xx', ok);
    assert.equal(fetches, 6, 'nor is a 5xx');

    // The pause ends: polled with a deadline (it is 50 ms).
    await assert.rejects(reads.read('short', limited(50)), { kind: 'rate_limited' });
    const deadline = Date.now() + 5_000;
    let read: unknown;
    while (read === undefined && Date.now() < deadline) {
      read = await reads.read('short', ok).catch(() => undefined);
      if (read === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(read, 'read again once the pause has passed');

    // A pause longer than ten minutes is held for ten.
    const realNow = Date.now;
    try {
      await assert.rejects(reads.read('long', limited(24 * 3600_000)), { kind: 'rate_limited' });
      const at = realNow();
      Date.now = () => at + LICENSED_READ_MAX_PAUSE_MS - 1_000;
      await assert.rejects(reads.read('long', ok), (err: unknown) => {
        assert.ok(err instanceof TalkdeskHttpError && err.kind === 'rate_limited');
        const left = err.retryAfterMs ?? 0;
        assert.ok(left > 0 && left <= 1_000 + 50, `what is left of the pause, not Talkdesk's whole one: ${left}`);
        return true;
      });
      Date.now = () => at + LICENSED_READ_MAX_PAUSE_MS + 1_000;
      await reads.read('long', ok);
    } finally {
      Date.now = realNow;
    }
  });
});
