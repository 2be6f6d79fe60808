import assert from 'node:assert/strict';
import { createLogger } from '../../src/logging/logger';
import { HttpProvisioner } from '../../src/partner';
import { UpdatePlanStore } from '../../src/store/update-plans';
import type { UpdateResult } from '../../workflows/activity-types';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { TestPartnerServer } from '../support/partner-server';

const SECRET = 'hook-secret-for-the-update-retry-tests';
const BEFORE = { plan: { name: 'basic', licenses: 3 } };
const AFTER = { plan: { name: 'pro', licenses: 10 } };

/**
 * An update whose first attempt applied the change but whose answer was lost (worker killed,
 * activity timed out): the workflow's next attempt must send the partner the same request and
 * report the same change, or the revert that follows a rejection undoes nothing. Activities
 * in-process against FerretDB and the simulator, the built-in provisioner and the HTTP one.
 */
for (const kind of ['mongodb', 'http'] as const) {
  describe(`a retried update reports the change its first attempt made (${kind} provisioner)`, function () {
    this.timeout(120_000);
    let h: ActivityHarness;
    const server = new TestPartnerServer([SECRET]);
    before(async () => {
      await server.start();
      h = await startActivityHarness({
        partner:
          kind === 'http'
            ? (store) =>
                new HttpProvisioner({
                  url: server.url,
                  secrets: [SECRET],
                  timeoutMs: 5_000,
                  pageSize: 50,
                  calls: store.partnerCalls,
                  logger: createLogger({ level: 'silent' }),
                })
            : undefined,
      });
    });
    after(async () => {
      await h?.close();
      await server.stop();
    });

    /** An installation provisioned with subscription BEFORE, and an update (a user added, one removed, AFTER) not yet applied. */
    async function updating() {
      const { installation, event, installed, ref } = await h.installing(3);
      const installationId = installation.id;
      const prov = await h.run(h.acts.provisionAccount, { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt });
      const accountId = prov.accountId;
      await h.store.accounts.recordSubscription(accountId, BEFORE);
      const activeUsers = async () =>
        (await h.store.accounts.listUsers(accountId))
          .filter((u) => u.active)
          .map((u) => u.talkdeskUserId)
          .sort();
      const before = await activeUsers();
      const removing = (await h.store.accounts.listUsers(accountId)).find((u) => u.role !== 'admin')?.talkdeskUserId;
      assert.ok(removing);
      const updated = h.simulator.updateUsers(installationId, { add: 1, remove: [removing] });
      const adding = (updated.data as { users?: { adding: string[] } }).users?.adding ?? [];
      assert.equal(adding.length, 1);
      const input = {
        ...ref,
        accountId,
        usersAdding: adding,
        usersRemoving: [removing],
        subscription: AFTER,
        eventId: updated.id,
        occurredAt: updated.created_at,
      };
      return { installationId, accountId, input, adding, removing, before, activeUsers, updated };
    }

    it('applied twice, then reverted: users and subscription as before the update', async () => {
      const { installationId, accountId, input, adding, removing, before, activeUsers, updated } = await updating();
      const first = await h.run(h.acts.applyUpdate, input);
      const expected: UpdateResult = { usersAdded: adding, usersDeactivated: [removing], previousSubscription: BEFORE };
      assert.deepEqual(first, expected);
      // The answer was lost: the workflow's next attempt runs the activity again, on the updated store.
      const second = await h.run(h.acts.applyUpdate, input);
      assert.deepEqual(second, expected, 'the retry reports the change the first attempt made');
      assert.deepEqual((await h.store.accounts.getAccount(accountId))?.subscription, AFTER);

      await h.run(h.acts.revertUpdate, { installationId, accountId, applied: second, eventId: updated.id });
      assert.deepEqual(await activeUsers(), before, 'the users as before the update');
      assert.deepEqual((await h.store.accounts.getAccount(accountId))?.subscription, BEFORE, 'the subscription as before');

      if (kind === 'http') {
        const sent = server.hooks('account.update', installationId);
        assert.equal(sent.length, 2);
        assert.deepEqual(sent[1]?.body, sent[0]?.body, 'the same body under the same idempotency key');
        const revert = server.hooks('account.revert_update', installationId)[0]?.body.data;
        assert.deepEqual(revert?.users_added, adding);
        assert.deepEqual(revert?.users_deactivated, [removing]);
        assert.deepEqual(revert?.previous_subscription, BEFORE);
        // The test partner applied them as a partner should: its account is back as it was too.
        const model = server.accounts.get(accountId);
        assert.ok(model);
        assert.equal(model.users.get(adding[0] ?? '')?.active ?? false, false);
        assert.equal(model.users.get(removing)?.active, true);
      }
    });

    it('stopped while applying (no result to go by): the revert undoes the change its first attempt planned', async () => {
      const { installationId, accountId, input, adding, before, activeUsers, updated } = await updating();
      await h.run(h.acts.applyUpdate, input);
      await h.run(h.acts.revertUpdate, { installationId, accountId, eventId: updated.id, occurredAt: updated.created_at });
      assert.deepEqual(await activeUsers(), before, 'the users as before the update');
      assert.deepEqual((await h.store.accounts.getAccount(accountId))?.subscription, BEFORE, 'the subscription as before');
      if (kind === 'http') assert.deepEqual(server.hooks('account.revert_update', installationId)[0]?.body.data.users_added, adding);
    });

    it('stopped before it planned anything: the revert sends nothing, and an attempt still running applies nothing after it', async () => {
      const { installationId, accountId, input, before, activeUsers, updated } = await updating();
      await h.run(h.acts.revertUpdate, { installationId, accountId, eventId: updated.id, occurredAt: updated.created_at });
      assert.deepEqual(await activeUsers(), before);
      assert.deepEqual((await h.store.accounts.getAccount(accountId))?.subscription, BEFORE);
      // The hooks are the HTTP variant's: the built-in provisioner sends none, so only there can this show anything.
      if (kind === 'http') assert.deepEqual(server.hooks('account.revert_update', installationId), []);
      // The attempt that timed out while planning goes on after the revert: it must not apply the update.
      await assert.rejects(h.run(h.acts.applyUpdate, input), (err: Error) => /given up before its change was planned/.test(err.message));
      assert.deepEqual(await activeUsers(), before);
      assert.deepEqual((await h.store.accounts.getAccount(accountId))?.subscription, BEFORE);
      if (kind === 'http') assert.deepEqual(server.hooks('account.update', installationId), []);
    });

    it('plans outlive the readings: swept past their keepUntil, which each revert attempt renews', async () => {
      const plans = new UpdatePlanStore(h.db);
      const progress = h.store.licensedUsersProgress;
      const DAY = 86_400_000;
      await progress.savePage(`r-${kind}`, `i-${kind}`, 1, [], undefined);
      await plans.keepFirst(`p-${kind}`, `i-${kind}`, { accountId: 'a', usersAdded: [], usersRemoved: ['u1'], newlyAdded: [] });
      const now = Date.now();
      await progress.sweep(new Date(now + 9 * DAY));
      assert.equal(await progress.load(`r-${kind}`), undefined, 'a reading goes after eight days');
      assert.ok(await plans.load(`p-${kind}`), 'a plan stays past them');
      await plans.renew(`p-${kind}`, new Date(now + 20 * DAY));
      await progress.sweep(new Date(now + 40 * DAY));
      assert.ok(await plans.load(`p-${kind}`), 'renewed by a revert at day 20: kept thirty days from then');
      await progress.sweep(new Date(now + 51 * DAY));
      assert.equal(await plans.load(`p-${kind}`), undefined, 'then swept');
    });

    it('two attempts at once (one timed out, still running) keep one plan: both send the first', async () => {
      const plans = new UpdatePlanStore(h.db);
      const plan = (n: number) => ({ accountId: `a-${kind}`, usersAdded: [], usersRemoved: [`u${n}`], newlyAdded: [] });
      const kept = await Promise.all([1, 2, 3].map((n) => plans.keepFirst(`k-${kind}`, `i-${kind}`, plan(n))));
      assert.equal(new Set(kept.map((p) => JSON.stringify(p))).size, 1, 'every attempt goes on with the same plan');
      assert.deepEqual(await plans.load(`k-${kind}`), kept[0]);
    });
  });
}
