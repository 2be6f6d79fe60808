import assert from 'node:assert/strict';
import { workflowIdFor } from '../../workflows/definitions';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/** The event times a run resumed from the record judges late events by, kept on the record in FerretDB. */
describe('installation record: the newest install, update and rotation applied (recordInstallation, loadInstallation)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  it('stores both and gives them back; a write without them keeps them', async () => {
    const installationId = 'inst-event-times';
    const base = { installationId, workflowId: workflowIdFor(installationId), appId: 'app-acts', links: {}, phase: 'active' as const };
    const times = {
      installEventAt: '2026-11-01T10:00:00.000Z',
      updateEventAt: '2026-11-20T08:30:00.000Z',
      rotationEventAt: '2026-11-25T12:00:00.000Z',
      subscriptionFrom: '2026-11-15T09:00:00.000Z',
    };
    await h.run(h.acts.recordInstallation, { ...base, ...times });
    const loaded = await h.run(h.acts.loadInstallation, { installationId });
    assert.deepEqual(
      [loaded?.installEventAt, loaded?.updateEventAt, loaded?.rotationEventAt, loaded?.subscriptionFrom],
      Object.values(times),
    );
    await h.run(h.acts.recordInstallation, base); // a record written by an older run: nothing to say about them
    const again = await h.run(h.acts.loadInstallation, { installationId });
    assert.deepEqual(
      [again?.updateEventAt, again?.rotationEventAt, again?.subscriptionFrom],
      [times.updateEventAt, times.rotationEventAt, times.subscriptionFrom],
    );
    // No update set a subscription: said so (''), told apart from a record without the field.
    await h.run(h.acts.recordInstallation, { ...base, subscriptionFrom: '' });
    assert.equal((await h.run(h.acts.loadInstallation, { installationId }))?.subscriptionFrom, '');
  });

  it("a provision's user mappings hold when its event reached us (factsAt, our clock: a removal marked since wins at sign-in)", async () => {
    const { installation, event, ref } = await h.installing(2);
    const prov = await h.run(h.acts.provisionAccount, { ...ref, accountName: installation.accountName ?? '', eventId: event.id });
    const receivedAt = (await h.store.inbox.get(event.id))?.receivedAt;
    assert.ok(receivedAt);
    const users = await h.store.accounts.users.find({ accountId: prov.accountId }).toArray();
    assert.equal(users.length, 2);
    for (const u of users) assert.equal(u.factsAt?.getTime(), receivedAt.getTime(), u._id);
  });

  it('a reverted update reactivates users with the facts they held before, not as of now (a removal marked meanwhile still holds)', async () => {
    const accounts = h.store.accounts;
    const accountId = 'acct-facts-kept';
    const factsAt = new Date(Date.now() - 600_000);
    const factsEventAt = new Date(Date.now() - 660_000);
    await accounts.upsertUsers(accountId, 'inst-facts-kept', [{ id: 'u1' }], undefined, { at: factsAt, eventAt: factsEventAt });
    // A mapping written before `factsAt` existed: its last write's time stands for it.
    const old = new Date(Date.now() - 900_000);
    await accounts.users.updateOne(
      { _id: `${accountId}:u2` },
      { $set: { accountId, installationId: 'inst-facts-kept', talkdeskUserId: 'u2', role: 'user', active: true, updatedAt: old } },
      { upsert: true },
    );
    await accounts.deactivateUsers(accountId, ['u1', 'u2']);
    const deactivatedAt = (await accounts.users.findOne({ _id: `${accountId}:u2` }))?.updatedAt;
    await accounts.reactivateUsers(accountId, ['u1', 'u2']);
    const [u1, u2] = await Promise.all(['u1', 'u2'].map((u) => accounts.users.findOne({ _id: `${accountId}:${u}` })));
    assert.equal(u1?.active, true);
    assert.equal(u1?.factsAt?.getTime(), factsAt.getTime(), 'the facts it held before the update');
    assert.equal(u1?.factsEventAt?.getTime(), factsEventAt.getTime());
    assert.equal(u2?.active, true);
    assert.equal(u2?.factsAt?.getTime(), deactivatedAt?.getTime(), 'not the reactivation time');
  });

  it("gives a live installation's retiring sets back (a run resumed from it retires them), an ended one's not", async () => {
    const { base, clientId } = await h.installing(1);
    const retireAt = new Date(Date.now() + 3_600_000);
    await h.store.credentials.scheduleRetirement(base.installationId, clientId, retireAt);
    await h.run(h.acts.recordInstallation, { ...base, phase: 'active' });
    const loaded = await h.run(h.acts.loadInstallation, { installationId: base.installationId });
    assert.deepEqual(loaded?.retiring, [{ clientId, retireAt: retireAt.toISOString() }]);
    await h.run(h.acts.recordInstallation, { ...base, phase: 'uninstalled' });
    assert.equal((await h.run(h.acts.loadInstallation, { installationId: base.installationId }))?.retiring, undefined);
  });
});
