import assert from 'node:assert/strict';
import type { CallRecord } from '../../src/simulator/types';
import { USERS_READ_ONE_BY_ONE } from '../../activities/update-keys';
import { callKey } from '../../src/partner/keys';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * The users an update adds, read at Talkdesk (activities/provisioning.ts, `usersToAdd`): many are taken
 * from the licensed users' listing, kept page by page so a retry goes on from where the last attempt
 * stopped (one GET per user, all again at each attempt, could not finish thousands); a user Talkdesk no
 * longer has is left out rather than failing the update. Activities in-process against FerretDB and the simulator.
 */
describe('an update adding users reads them at Talkdesk', function () {
  this.timeout(120_000);
  let h: ActivityHarness;
  before(async () => {
    h = await startActivityHarness();
  });
  after(async () => {
    await h?.close();
  });

  async function updating(add: number) {
    const { installation, event, installed, ref } = await h.installing(3);
    const prov = await h.run(h.acts.provisionAccount, { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt });
    const updated = h.simulator.updateUsers(installation.id, { add });
    const adding = (updated.data as { users?: { adding: string[] } }).users?.adding ?? [];
    assert.equal(adding.length, add);
    const input = {
      ...ref,
      accountId: prov.accountId,
      usersAdding: adding,
      usersRemoving: [],
      eventId: updated.id,
      occurredAt: updated.created_at,
    };
    const activeUsers = async () => (await h.store.accounts.listUsers(prov.accountId)).filter((u) => u.active).map((u) => u.talkdeskUserId);
    return { installationId: installation.id, input, adding, activeUsers };
  }

  /** The simulator's calls on `routes` while `fn` runs. */
  async function callsDuring<T>(routes: CallRecord['route'][], fn: () => Promise<T>): Promise<{ value: T; calls: CallRecord[] }> {
    const calls: CallRecord[] = [];
    const stop = h.simulator.onCall((c) => void (routes.includes(c.route) && calls.push(c)));
    try {
      return { value: await fn(), calls };
    } finally {
      stop();
    }
  }

  it(`more than ${USERS_READ_ONE_BY_ONE}: from the licensed users' listing, a retry going on from the page it stopped at`, async () => {
    const { installationId, input, adding, activeUsers } = await updating(USERS_READ_ONE_BY_ONE * 3);
    // The listing's second page fails: the attempt fails, its first page kept.
    h.simulator.failNext('licensedUsers', 1, { status: 500 }, { after: 1 });
    const first = await callsDuring(['users', 'licensedUsers'], () =>
      h.run(h.acts.applyUpdate, input).then(
        () => 'applied',
        () => 'failed',
      ),
    );
    assert.equal(first.value, 'failed');
    // Kept by the failed attempt (names and emails of the page it read), under the key its clean-up must match.
    const key = callKey(installationId, input.eventId, 'account.update');
    const keptPages = () => h.db.db.collection('licensed_users_progress').countDocuments({ key, page: { $exists: true } });
    assert.ok((await keptPages()) > 0, 'the first attempt kept its page');
    const second = await callsDuring(['users', 'licensedUsers'], () => h.run(h.acts.applyUpdate, input));
    assert.deepEqual([...second.value.usersAdded].sort(), [...adding].sort());
    for (const id of adding) assert.ok((await activeUsers()).includes(id), `${id} active`);
    assert.equal([...first.calls, ...second.calls].filter((c) => c.route === 'users').length, 0, 'no GET per user');
    const pagesRead = (calls: CallRecord[]) =>
      calls.filter((c) => c.route === 'licensedUsers' && c.status === 200).map((c) => c.query ?? '');
    assert.equal(pagesRead(first.calls).length, 1);
    assert.ok(!pagesRead(second.calls).includes(pagesRead(first.calls)[0]!), 'the page the first attempt kept is not read again');
    // Applied: the kept pages (names and emails) are gone; the update's plan stays (UpdatePlanStore, for a revert).
    assert.equal(await keptPages(), 0);
  });

  it('a few: one GET each; one Talkdesk no longer has (404) is left out and the others are applied', async () => {
    const { input, adding, activeUsers } = await updating(3);
    h.simulator.failNext('users', 1, { status: 404 });
    const { value, calls } = await callsDuring(['users', 'licensedUsers'], () => h.run(h.acts.applyUpdate, input));
    assert.deepEqual(
      calls.map((c) => [c.route, c.status]),
      [
        ['users', 404],
        ['users', 200],
        ['users', 200],
      ],
    );
    assert.deepEqual([...value.usersAdded].sort(), adding.slice(1).sort());
    const active = await activeUsers();
    assert.ok(!active.includes(adding[0]!) && adding.slice(1).every((id) => active.includes(id)));
  });

  it('a 404 from the token request is not taken for users gone: the attempt fails, no plan kept without them', async () => {
    const { installationId, input, adding, activeUsers } = await updating(3);
    await h.store.credentials.dropTokens(installationId);
    h.simulator.failNext('token', 1, { status: 404 });
    const { value, calls } = await callsDuring(['users', 'token'], () =>
      h.run(h.acts.applyUpdate, input).then(
        () => 'applied',
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      ),
    );
    assert.match(value, /404/);
    assert.deepEqual(
      calls.map((c) => c.route),
      ['token'],
      'no user read without a token',
    );
    // Failed as any token 404 is (TalkdeskNotFound: final, the update fails visibly instead of being approved without
    // its users). No plan was kept without them: an attempt once the token endpoint answers adds every user.
    const retried = await h.run(h.acts.applyUpdate, input);
    assert.deepEqual([...retried.usersAdded].sort(), [...adding].sort());
    const active = await activeUsers();
    assert.ok(
      adding.every((id) => active.includes(id)),
      'all active',
    );
  });
});
