import assert from 'node:assert/strict';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * A late update (older than one applied) re-reads Talkdesk's licensed users and keeps the change it planned for its
 * retries. Handled again after a newer update was applied since (a lost run's event handed over to the next run), it
 * must plan afresh: the change planned before that update is stale (activities/update-keys.ts `keyBasis`). Activities
 * in-process against FerretDB and the simulator, the built-in provisioner.
 */
describe('a late update handled again after a newer one plans afresh (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(async () => h?.close());

  it('its first handling removes a user whose licence went; handled again after the licence came back, it keeps them', async () => {
    const { installation, event, installed, ref } = await h.installing(3);
    const installationId = installation.id;
    const { accountId } = await h.run(h.acts.provisionAccount, {
      ...ref,
      accountName: '',
      eventId: event.id,
      occurredAt: installed.createdAt,
    });
    const active = async (id: string) => (await h.store.accounts.listUsers(accountId)).find((u) => u.talkdeskUserId === id)?.active;
    const leaving = (await h.store.accounts.listUsers(accountId)).find((u) => u.role !== 'admin')?.talkdeskUserId;
    assert.ok(leaving);

    // E: the licence removed at Talkdesk. Handled late (an update newer than it applied at `firstAfter`).
    const late = h.simulator.updateUsers(installationId, { remove: [leaving] });
    const firstAfter = new Date(Date.parse(late.created_at) + 60_000).toISOString();
    const lateInput = (lateAfter: string) => ({
      ...ref,
      accountId,
      usersAdding: [],
      usersRemoving: [],
      resyncUsers: true,
      lateAfter,
      eventId: late.id,
      occurredAt: late.created_at,
    });
    const first = await h.run(h.acts.applyUpdate, lateInput(firstAfter));
    assert.deepEqual(first.usersDeactivated, [leaving], 'Talkdesk no longer licenses them');
    assert.equal(await active(leaving), false);
    // Its retry (same handling): the same change, as planned.
    assert.deepEqual(await h.run(h.acts.applyUpdate, lateInput(firstAfter)), first);

    // E2: the licence given back, applied in order.
    const back = h.simulator.updateUsers(installationId, { add: [leaving] });
    await h.run(h.acts.applyUpdate, {
      ...ref,
      accountId,
      usersAdding: [leaving],
      usersRemoving: [],
      eventId: back.id,
      occurredAt: back.created_at,
    });
    assert.equal(await active(leaving), true);

    // E handled again, late after E2: Talkdesk read afresh, nothing to remove (before: E's first plan re-applied).
    const again = await h.run(h.acts.applyUpdate, lateInput(back.created_at));
    assert.deepEqual(again.usersDeactivated, []);
    assert.equal(await active(leaving), true, 'a licensed user stays active');
  });
});
