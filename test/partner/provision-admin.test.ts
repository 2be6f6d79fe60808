import assert from 'node:assert/strict';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * The installing administrator (`created_by` at Talkdesk) of a provision: every attempt that reaches
 * the partner must send the same one under the same key, so a read worth retrying fails the attempt
 * instead of provisioning with nobody marked admin. Activities in-process, FerretDB, the simulator.
 */
describe('provisioning: the installing administrator', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  async function installing() {
    const { installation, event, installed, ref } = await h.installing(2);
    const input = { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt };
    const admins = async (accountId: string) =>
      (await h.store.accounts.listUsers(accountId)).filter((u) => u.role === 'admin').map((u) => u.talkdeskUserId);
    return { installation, input, admins };
  }

  it('a read Talkdesk answers 500 fails the attempt (retried); the next one marks the administrator', async () => {
    const { installation, input, admins } = await installing();
    h.simulator.failNext('installation', 1, { status: 500 });
    await assert.rejects(h.run(h.acts.provisionAccount, input), (err: Error) => /500|unavailable/i.test(err.message));
    assert.equal(await h.store.accounts.findByInstallation(installation.id), null, 'nothing provisioned by the failed attempt');
    const prov = await h.run(h.acts.provisionAccount, input);
    assert.deepEqual(await admins(prov.accountId), [installation.createdBy]);
  });

  it('a read Talkdesk refuses for good (403) provisions with nobody marked admin', async () => {
    const { input, admins } = await installing();
    h.simulator.failNext('installation', 1, { status: 403 });
    const prov = await h.run(h.acts.provisionAccount, input);
    assert.deepEqual(await admins(prov.accountId), []);
  });
});
