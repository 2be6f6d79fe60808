import assert from 'node:assert/strict';
import type { CommandStartedEvent } from 'mongodb';
import { COLLECTIONS } from '../../src/store';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * A provision's user mappings are written in batches of statements by `_id` (src/store/accounts.ts `upsertUsers`),
 * one command per 500 users instead of one per user; a licence refresh's (`asOf`) each right after its own read.
 */
describe('user mappings written in batches (FerretDB)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** The update commands sent to user_mappings while `fn` runs, with their statements' filters. */
  async function mappingUpdates(fn: () => Promise<unknown>): Promise<unknown[][]> {
    const seen: unknown[][] = [];
    const listener = (e: CommandStartedEvent) => {
      if (e.commandName === 'update' && e.command.update === COLLECTIONS.userMappings)
        seen.push((e.command.updates as { q: unknown }[]).map((u) => u.q));
    };
    h.db.client.on('commandStarted', listener);
    try {
      await fn();
    } finally {
      h.db.client.off('commandStarted', listener);
    }
    return seen;
  }

  it('1,201 users: three commands of 500, 500 and 201 statements, each by {_id}, and every user mapped', async () => {
    const accountId = 'acct-batches';
    const users = Array.from({ length: 1201 }, (_, i) => ({ id: `u${i}`, email: `u${i}@example.com`, name: `User ${i}` }));
    const commands = await mappingUpdates(() => h.store.accounts.upsertUsers(accountId, 'inst-batches', users));
    assert.deepEqual(
      commands.map((c) => c.length),
      [500, 500, 201],
    );
    assert.ok(commands.flat().every((q) => Object.keys(q as object).join() === '_id'));
    const mapped = await h.store.accounts.listUsers(accountId);
    assert.equal(mapped.length, 1201);
    assert.ok(mapped.every((u) => u.active && u.partnerUserId === `pu_${accountId}_${u.talkdeskUserId}`));
    // Written again (a retried provision): nothing doubles.
    await h.store.accounts.upsertUsers(accountId, 'inst-batches', users.slice(0, 10));
    assert.equal((await h.store.accounts.listUsers(accountId)).length, 1201);
  });

  it('as of a reading (a licence refresh): one write per user, each right after its read, a later write kept', async () => {
    const accountId = 'acct-as-of';
    const asOf = new Date(Date.now() - 60_000);
    await h.store.accounts.upsertUsers(accountId, 'inst-as-of', [{ id: 'later', name: 'fresh' }]); // written after the reading
    const commands = await mappingUpdates(() =>
      h.store.accounts.upsertUsers(accountId, 'inst-as-of', [{ id: 'a' }, { id: 'later', name: 'stale' }, { id: 'b' }], asOf),
    );
    assert.deepEqual(commands, [[{ _id: `${accountId}:a` }], [{ _id: `${accountId}:b` }]]);
    const later = (await h.store.accounts.listUsers(accountId)).find((u) => u.talkdeskUserId === 'later');
    assert.equal(later?.name, 'fresh', 'the stale facts did not overwrite the later write');
  });
});
