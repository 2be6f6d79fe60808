import assert from 'node:assert/strict';
import { COLLECTIONS } from '../../src/store';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';

/**
 * The workflow owns retries (each attempt of a step is a new activity, without the
 * previous one's heartbeat details): the reading of the licensed users is kept in
 * MongoDB, so the next attempt reads only the pages left (dev server, FerretDB, simulator).
 */
describe('provisioning resumes the licensed users across the workflow retries (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  const pageOf = (query: string | undefined) => Number(new URLSearchParams(query ?? '').get('page') ?? '1');

  it('a second attempt reads only the remaining pages, and the saved reading is deleted once the install is active', async () => {
    // 100 users, 20 a page: five pages. The fourth fails (500), once.
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 100 });
    sys.simulator.failNext('licensedUsers', 1, { status: 500 }, { after: 3 });
    const from = sys.simulator.calls.length;
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, installation.id, 'active', 60_000);

    const reads = sys.simulator.calls.slice(from).filter((c) => c.route === 'licensedUsers');
    assert.deepEqual(
      reads.map((c) => `${pageOf(c.query)}:${c.status}`),
      ['1:200', '2:200', '3:200', '4:500', '4:200', '5:200'],
      'the second attempt goes on from the page that failed',
    );
    const users = await sys.store.accounts.listUsers(installation.accountId);
    assert.equal(users.filter((u) => u.active).length, 100, 'every licensed user provisioned once');
    // Kept after the provision (a retry after a lost answer sends the same users), deleted once the install is active.
    const progress = sys.store.db.collection(COLLECTIONS.licensedUsersProgress);
    await eventually('the saved reading deleted once the install is active', async () =>
      (await progress.countDocuments({ installationId: installation.id })) === 0 ? true : undefined,
    );
  });
});
