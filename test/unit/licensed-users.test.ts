import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { TALKDESK_FAILURE_TYPES } from '../../src/talkdesk/failures';
import {
  licensedDifference,
  readLicensedUsers,
  type LicensedUsersProgress,
  type ReadingStore,
  type ReadPage,
} from '../../activities/licensed-users';

/** Talkdesk's licensed users, `perPage` a page, as `licensedUsersPage` answers them. */
function pages(total: number, perPage: number): { read: ReadPage; asked: (string | undefined)[] } {
  const asked: (string | undefined)[] = [];
  const read: ReadPage = async (pageUrl) => {
    asked.push(pageUrl);
    const page = pageUrl ? Number(new URL(pageUrl).searchParams.get('page')) : 1;
    const users = Array.from({ length: Math.min(perPage, total - (page - 1) * perPage) }, (_, i) => ({
      id: `u${(page - 1) * perPage + i}`,
    }));
    const next = page * perPage < total ? `https://api.talkdesk.test/users?page=${page + 1}` : undefined;
    return { users, ...(next ? { next } : {}) };
  };
  return { read, asked };
}

/** A reading kept in memory as the store keeps it: pages in order, a later attempt going on from the last. */
function memoryStore() {
  const kept: { page: number; users: { id: string }[]; next?: string }[] = [];
  const store: ReadingStore = {
    load: async () =>
      kept.length
        ? { pages: kept.length, users: kept.flatMap((p) => p.users), ...(kept.at(-1)?.next ? { next: kept.at(-1)!.next } : {}) }
        : undefined,
    savePage: async (page, users, next) => {
      kept.push({ page, users, ...(next ? { next } : {}) });
      return { users, ...(next ? { next } : {}) };
    },
  };
  return { kept, store };
}

/** Provisioning reads the licensed users page by page, a heartbeat each, and resumes from the last page. */
describe('licensed users read page by page', () => {
  it('heartbeats after every page and has no page limit of its own (250 pages)', async () => {
    const env = new MockActivityEnvironment();
    const beats: LicensedUsersProgress[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d as LicensedUsersProgress));
    const { read } = pages(2_500, 10);
    const users = (await env.run(readLicensedUsers, read)) as { id: string }[];
    assert.equal(users.length, 2_500);
    assert.equal(beats.length, 250);
    assert.equal(beats[0]?.next, 'https://api.talkdesk.test/users?page=2');
    assert.equal(beats.at(-1)?.next, undefined);
    assert.equal(beats.at(-1)?.pages, 250);
  });

  it('heartbeat details say where the reading stands, never the users (a timeout writes them into history)', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const read: ReadPage = async (pageUrl) => {
      const page = pageUrl ? 2 : 1;
      const users = Array.from({ length: 500 }, (_, i) => ({ id: `u${page}-${i}`, name: `Agent ${i}`, email: `agent${i}@customer.test` }));
      return { users, ...(page === 1 ? { next: 'https://api.talkdesk.test/users?page=2' } : {}) };
    };
    const users = (await env.run(readLicensedUsers, read)) as { id: string }[];
    assert.equal(users.length, 1_000);
    assert.deepEqual(beats, [
      { kind: 'licensed-users', pages: 1, users: 500, next: 'https://api.talkdesk.test/users?page=2' },
      { kind: 'licensed-users', pages: 2, users: 1_000 },
    ]);
    assert.doesNotMatch(JSON.stringify(beats), /customer\.test|Agent/);
  });

  it('keeps each page in the store, and a new activity goes on from the saved reading', async () => {
    const { kept, store: saved } = memoryStore();
    const { read, asked } = pages(10, 2);
    let calls = 0;
    const failingAtPage4: ReadPage = async (url) => {
      if (++calls === 4) throw new Error('Talkdesk unavailable (503)');
      return read(url);
    };
    await assert.rejects(new MockActivityEnvironment().run(readLicensedUsers, failingAtPage4, saved), /503/);
    assert.deepEqual(
      kept.map((p) => p.page),
      [1, 2, 3],
    );
    const users = (await new MockActivityEnvironment().run(readLicensedUsers, read, saved)) as { id: string }[];
    assert.deepEqual(asked.slice(3), ['https://api.talkdesk.test/users?page=4', 'https://api.talkdesk.test/users?page=5']);
    assert.equal(users.length, 10);
    assert.deepEqual(
      kept.map((p) => p.page),
      [1, 2, 3, 4, 5],
    );
  });

  it('two attempts reading side by side send the same users: each goes on from the pages the other kept first', async () => {
    // First writer wins, as the store does (insert by `<key>:<page>`).
    const kept = new Map<number, { users: { id: string }[]; next?: string }>();
    const saved: ReadingStore = {
      load: async () => undefined, // both began before either kept a page
      savePage: async (page, users, next) => {
        if (!kept.has(page)) kept.set(page, { users, ...(next ? { next } : {}) });
        return kept.get(page)! as { users: { id: string; name: string; email: string }[]; next?: string };
      },
    };
    // The second attempt reads after a user was added: its pages hold other users at other offsets.
    const reader = (offset: number): ReadPage => {
      return async (url) => {
        const page = url ? Number(new URL(url).searchParams.get('page')) : 1;
        const users = [0, 1].map((i) => ({ id: `u${(page - 1) * 2 + i + offset}`, name: 'Agent', email: 'a@customer.test' }));
        return { users, ...(page < 3 ? { next: `https://api.talkdesk.test/users?page=${page + 1}` } : {}) };
      };
    };
    const [a, b] = await Promise.all([
      new MockActivityEnvironment().run(readLicensedUsers, reader(0), saved),
      new MockActivityEnvironment().run(readLicensedUsers, reader(1), saved),
    ]);
    const ids = (users: unknown) => (users as { id: string }[]).map((u) => u.id).sort();
    assert.deepEqual(ids(a), ids(b));
    assert.deepEqual(ids(a), [...kept.values()].flatMap((p) => p.users.map((u) => u.id)).sort(), 'exactly the users of the pages kept');
  });

  it('a page that repeats ends the reading as a protocol error, not a loop', async () => {
    const read: ReadPage = async () => ({ users: [{ id: 'u' }], next: 'https://api.talkdesk.test/users?page=2' });
    await assert.rejects(new MockActivityEnvironment().run(readLicensedUsers, read), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.match(err.message, /repeats a page/);
      assert.equal(err.type, TALKDESK_FAILURE_TYPES.protocol, 'the type retry policies and workflows match on');
      assert.equal(err.nonRetryable, true);
      return true;
    });
  });
});

/** A late update's resync (`licensedDifference`): a licence removed while the pages are read must not remove another user. */
describe('licensed users against the account: what to add and remove', () => {
  /** Talkdesk's list `ids`, two a page by offset; `onPage(n)` runs after page n is answered (a licence removed then). */
  function shifting(ids: string[], onPage: (page: number, list: string[]) => void): ReadPage {
    const list = [...ids];
    return async (pageUrl) => {
      const page = pageUrl ? Number(new URL(pageUrl).searchParams.get('page')) : 1;
      const users = list.slice((page - 1) * 2, page * 2).map((id) => ({ id }));
      const next = page * 2 < list.length ? `https://api.talkdesk.test/users?page=${page + 1}` : undefined;
      onPage(page, list);
      return { users, ...(next ? { next } : {}) };
    };
  }

  it('a licence removed during the reading moves a user out of it: that user is not removed (a second reading has them)', async () => {
    let removedOnce = false;
    // After page 1 (a, b) the licence of a is removed: page 2 is now (d, e), and c is never read the first time.
    const read = shifting(['a', 'b', 'c', 'd', 'e'], (page, list) => {
      if (page === 1 && !removedOnce) {
        removedOnce = true;
        list.splice(0, 1);
      }
    });
    const existing = new Set(['a', 'b', 'c', 'd', 'e', 'gone']);
    const { added, removing } = (await new MockActivityEnvironment().run(licensedDifference, existing, read)) as Awaited<
      ReturnType<typeof licensedDifference>
    >;
    assert.deepEqual(removing, ['gone'], 'only the user neither reading lists');
    assert.deepEqual(added, []);
  });

  it('users Talkdesk lists that the account lacks are added; without a removal there is no second reading', async () => {
    let pagesRead = 0;
    const read = shifting(['a', 'b', 'c'], () => (pagesRead += 1));
    const { added, removing } = (await new MockActivityEnvironment().run(licensedDifference, new Set(['a']), read)) as Awaited<
      ReturnType<typeof licensedDifference>
    >;
    assert.deepEqual(
      added.map((u) => u.id),
      ['b', 'c'],
    );
    assert.deepEqual(removing, []);
    assert.equal(pagesRead, 2, 'one reading');
  });
});

describe('licensed users against the account: the confirming reading across attempts', () => {
  it('is kept apart and resumed by the next attempt, as the first reading is (a large account cannot read it whole in one)', async () => {
    const first = memoryStore();
    const confirm = memoryStore();
    const { read } = pages(6, 2);
    let calls = 0;
    // The first reading takes pages 1-3 (calls 1-3); the confirming one, page 1 (call 4), then Talkdesk answers 429.
    const read429Once: ReadPage = async (url) => {
      calls += 1;
      if (calls === 5) throw new Error('Talkdesk rate limited (429)');
      return read(url);
    };
    const existing = new Set(['u0', 'gone']);
    const run = () => new MockActivityEnvironment().run(licensedDifference, existing, read429Once, first.store, confirm.store);
    await assert.rejects(run(), /429/);
    assert.deepEqual(
      confirm.kept.map((p) => p.page),
      [1],
    );
    const { removing } = (await run()) as Awaited<ReturnType<typeof licensedDifference>>;
    assert.deepEqual(removing, ['gone']);
    assert.equal(calls, 7, 'the next attempt read only the confirming pages left (2 and 3)');
  });
});
