import assert from 'node:assert/strict';
import type { CommandStartedEvent } from 'mongodb';
import { callsWithOneToken } from '../../activities/talkdesk-calls';
import { createLogger } from '../../src/logging/logger';
import { COLLECTIONS } from '../../src/store';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { TalkdeskHttpError } from '../../src/talkdesk/errors';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * One activity's Talkdesk calls share one token (activities/talkdesk-calls.ts `callsWithOneToken`): a provision's
 * account, installation and licensed users cost one token read, and a 401 among them forgets it.
 */
describe('token reuse within one activity (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** `fn`'s token reads in the store and token requests at the simulator. */
  async function tokensDuring(fn: () => Promise<unknown>): Promise<{ reads: number; grants: number; calls: string[] }> {
    let reads = 0;
    const listener = (e: CommandStartedEvent) => {
      if (e.commandName === 'find' && e.command.find === COLLECTIONS.tokens) reads += 1;
    };
    const from = h.simulator.calls.length;
    h.db.client.on('commandStarted', listener);
    try {
      await fn();
    } finally {
      h.db.client.off('commandStarted', listener);
    }
    const calls = h.simulator.calls.slice(from).map((c) => `${c.route} ${c.status}`);
    return { reads, grants: calls.filter((c) => c.startsWith('token ')).length, calls };
  }

  const provision = async (licensedUsers: number) => {
    const { installation, event, installed, ref } = await h.installing(licensedUsers);
    return () =>
      h.run(h.acts.provisionAccount, {
        ...ref,
        accountName: installation.accountName ?? '',
        eventId: event.id,
        occurredAt: installed.createdAt,
      });
  };

  it("a provision's three Talkdesk reads use one token, read or granted once", async () => {
    const run = await provision(3);
    const seen = await tokensDuring(run);
    assert.deepEqual(
      seen.calls.filter((c) => !c.startsWith('token ')),
      ['account 200', 'installation 200', 'licensedUsers 200'],
      'the reads made',
    );
    assert.equal(seen.grants, 1, `one token granted: ${seen.calls.join(', ')}`);
    assert.equal(seen.reads, 1, 'one read of the token cache');
  });

  it('a 401 forgets the token: the next call of the activity is granted a new one, and so is the next attempt', async () => {
    const { installation, ref } = await h.installing(1);
    const talkdesk = new TalkdeskClient({ allowedHosts: [new URL(ref.rootUrl).host], timeoutMs: 5_000 });
    const deps = { store: h.store, talkdesk, logger: createLogger({ level: 'silent' }) };
    const read = (token: string) => talkdesk.getInstallation(ref.rootUrl, ref.appId, installation.id, token);
    const seen = await tokensDuring(async () => {
      const calls = callsWithOneToken(deps, ref);
      await calls(read);
      await calls(read); // reused: no read, no grant
      h.simulator.failNext('installation', 1, { status: 401 });
      await assert.rejects(calls(read), (e: unknown) => e instanceof TalkdeskHttpError && e.kind === 'unauthorized');
      await calls(read); // asks again: the cache was dropped, so a new grant
    });
    assert.deepEqual(seen.calls, [
      'token 200',
      'installation 200',
      'installation 200',
      'installation 401',
      'token 200',
      'installation 200',
    ]);
    assert.equal(seen.reads, 2, 'the cache read once before the 401 and once after');

    // Another activity (or attempt) reads the cache: the token granted after the 401 is there, used without a grant.
    const next = await tokensDuring(() => callsWithOneToken(deps, ref)(read));
    assert.deepEqual(next.calls, ['installation 200']);
    assert.equal(next.reads, 1);
  });

  it('with no minimum validity (tokenMinValidityMs 0) nothing is reused: each call reads the cache', async () => {
    const { installation, ref } = await h.installing(1);
    const talkdesk = new TalkdeskClient({ allowedHosts: [new URL(ref.rootUrl).host], timeoutMs: 5_000 });
    const deps = { store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), tokenMinValidityMs: 0 };
    const calls = callsWithOneToken(deps, ref);
    const seen = await tokensDuring(async () => {
      for (let i = 0; i < 3; i += 1) await calls((token) => talkdesk.getInstallation(ref.rootUrl, ref.appId, installation.id, token));
    });
    assert.equal(seen.reads, 3);
    assert.equal(seen.grants, 1, 'granted once, then read from the cache');
  });
});
