import assert from 'node:assert/strict';
import { callKey } from '../../src/partner/keys';
import { COLLECTIONS } from '../../src/store';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * Every attempt of a provision that reaches the partner must send the same request under the same
 * key, and report the same result: the installing administrator (`created_by`: a read worth retrying
 * fails the attempt instead of provisioning with nobody admin), the licensed users (the reading is
 * kept), and whether settings were restored. Activities in-process, FerretDB, the simulator.
 */
describe('provisioning retried: the same request and result as its first attempt', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  async function installing() {
    const { installation, event, installed, ref, base, clientId } = await h.installing(2);
    const input = { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt };
    const admins = async (accountId: string) =>
      (await h.store.accounts.listUsers(accountId)).filter((u) => u.role === 'admin').map((u) => u.talkdeskUserId);
    return { installation, input, admins, base, clientId };
  }

  it('a read Talkdesk answers 500 fails the attempt (retried); the next one marks the administrator', async () => {
    const { installation, input, admins } = await installing();
    h.simulator.failNext('installation', 1, { status: 500 });
    await assert.rejects(h.run(h.acts.provisionAccount, input), (err: Error) => /500|unavailable/i.test(err.message));
    assert.equal(await h.store.accounts.findByInstallation(installation.id), null, 'nothing provisioned by the failed attempt');
    const prov = await h.run(h.acts.provisionAccount, input);
    assert.deepEqual(await admins(prov.accountId), [installation.createdBy]);
  });

  it('a retry after a lost answer sends the users the first attempt read, though the licences changed since', async () => {
    const { installation, input } = await installing();
    const first = await h.run(h.acts.provisionAccount, input);
    const mapped = async () => (await h.store.accounts.listUsers(first.accountId)).map((u) => u.talkdeskUserId).sort();
    const before = await mapped();
    h.simulator.updateUsers(installation.id, { add: 1 });
    const second = await h.run(h.acts.provisionAccount, input);
    assert.deepEqual(second, first);
    assert.deepEqual(await mapped(), before, 'the same users: the licence change comes with its own app.updated');
  });

  it('settings the first attempt created before it died are not reported restored by the retry', async () => {
    const { installation, input } = await installing();
    // The first attempt upserts the settings, then dies before writing the account.
    const accounts = (h.store.accounts as unknown as { accounts: { updateOne: (...a: unknown[]) => Promise<unknown> } }).accounts;
    const updateOne = accounts.updateOne.bind(accounts);
    accounts.updateOne = async () => {
      accounts.updateOne = updateOne;
      throw new Error('worker killed (test)');
    };
    await assert.rejects(h.run(h.acts.provisionAccount, input), /worker killed \(test\)/);
    assert.ok(await h.store.accounts.getSettings(installation.accountId), 'the first attempt wrote the settings before it died');
    assert.equal(await h.store.accounts.findByInstallation(installation.id), null, 'and no account');
    const reads = () =>
      h.simulator.calls.filter((c) => c.installationId === installation.id && ['account', 'installation'].includes(c.route)).length;
    const readsBefore = reads();
    const prov = await h.run(h.acts.provisionAccount, input);
    assert.equal(prov.settingsRestored, false, 'a first install: nothing restored');
    // The account's facts and created_by come from the first attempt: the same body under the same key (a rename meanwhile changes nothing).
    assert.equal(reads(), readsBefore, 'not read again');
  });

  it('the first attempt to keep the facts wins: an attempt outliving its timeout beside its retry sends what the first kept', async () => {
    const key = `facts-race-${Date.now()}`;
    const progress = h.store.licensedUsersProgress;
    assert.deepEqual(await progress.keepFirstFacts(key, 'inst-race', { account: { name: 'Before' } }), { account: { name: 'Before' } });
    assert.deepEqual(await progress.keepFirstFacts(key, 'inst-race', { account: { name: 'Renamed' } }), { account: { name: 'Before' } });
    await progress.clear(key);
    assert.equal(await progress.loadFacts(key), undefined, 'cleared with the pages');
  });

  it('the first attempt to keep a page of users wins: one reading beside it goes on from the page kept', async () => {
    const key = `pages-race-${Date.now()}`;
    const progress = h.store.licensedUsersProgress;
    const first = [{ id: 'u1', name: 'A', email: 'a@customer.test' }];
    const shifted = [{ id: 'u2', name: 'B', email: 'b@customer.test' }];
    assert.deepEqual(await progress.savePage(key, 'inst-race', 1, first, 'https://api.talkdesk.test/users?page=2'), {
      users: first,
      next: 'https://api.talkdesk.test/users?page=2',
    });
    // The other attempt read page 1 at another offset (a user added meanwhile), and its last page without a next.
    assert.deepEqual(await progress.savePage(key, 'inst-race', 1, shifted, undefined), {
      users: first,
      next: 'https://api.talkdesk.test/users?page=2',
    });
    assert.deepEqual(await progress.load(key), { pages: 1, users: first, next: 'https://api.talkdesk.test/users?page=2' });
    await progress.clear(key);
  });

  it('the reading kept for a retry goes when the install ends active', async () => {
    const { installation, input, base, clientId } = await installing();
    const prov = await h.run(h.acts.provisionAccount, input);
    const key = callKey(installation.id, input.eventId, 'account.provision');
    assert.ok(await h.store.licensedUsersProgress.load(key), 'kept after the provision');
    await h.run(h.acts.recordInstallation, {
      ...base,
      phase: 'active',
      accountId: prov.accountId,
      activeClientId: clientId,
      handledEventIds: [input.eventId],
    });
    assert.equal(await h.store.licensedUsersProgress.load(key), undefined);
  });

  it('a retried install approval that finds Talkdesk pending (an update opened since) counts as concluded, without evidence', async () => {
    const { installation, input } = await installing();
    await h.run(h.acts.provisionAccount, input);
    // The first attempt's approval landed; its answer was lost; the administrator then changed licences.
    const call = { ...input, state: 'approve' as const, concludes: 'install' as const };
    await h.run(h.acts.setInstallationState, call);
    await h.store.db
      .collection(COLLECTIONS.installations)
      .updateOne({ _id: installation.id } as never, { $unset: { installApprovedAt: '' } });
    h.simulator.updateUsers(installation.id, { add: 1 });
    const sent = h.simulator.stateCalls(installation.id).length;
    const retried = await h.run(h.acts.setInstallationState, { ...call, checkFirst: true });
    assert.deepEqual(retried, { state: 'pending', alreadyConcluded: true }, 'not undone as "not open"');
    assert.equal(h.simulator.stateCalls(installation.id).length, sent, 'nothing sent: it would approve the update');
    assert.equal((await h.store.installations.get(installation.id))?.installApprovedAt, undefined, 'no evidence recorded');
  });

  it('a read Talkdesk refuses for good (403) provisions with nobody marked admin', async () => {
    const { input, admins } = await installing();
    h.simulator.failNext('installation', 1, { status: 403 });
    const prov = await h.run(h.acts.provisionAccount, input);
    assert.deepEqual(await admins(prov.accountId), []);
  });
});
