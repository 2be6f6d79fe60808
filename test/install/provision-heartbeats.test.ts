import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ProvisionResult } from '../../workflows/activity-types';
import type { PartnerProvisioner } from '../../src/partner/provisioner';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * provisionAccount reads the account and the installation (and a token) at Talkdesk before the first page of
 * licensed users, each up to the client's timeout: together longer than the 20 s heartbeat timeout. It
 * heartbeats from its start, so a slow Talkdesk still answering does not fail every attempt as a dead worker.
 */
describe('provisionAccount activity: heartbeats while it reads the account at Talkdesk (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** Provisions (two licensed users) and returns the heartbeats sent before the first page of users was answered. */
  const provisionCountingBeats = async (input: Parameters<ActivityHarness['acts']['provisionAccount']>[0]): Promise<number> => {
    const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000 });
    let beats = 0;
    let beatsAtUsers: number | undefined;
    env.on('heartbeat', () => (beats += 1));
    const stop = h.simulator.onCall((c) => {
      if (c.route === 'licensedUsers' && c.installationId === input.installationId) beatsAtUsers ??= beats;
    });
    try {
      const prov = (await env.run(h.acts.provisionAccount, input)) as ProvisionResult;
      assert.equal(prov.licensedUsers, 2);
    } finally {
      stop();
    }
    return beatsAtUsers ?? 0;
  };

  it('heartbeats while the account read is slow, before the first page of users', async () => {
    const { event, installed, ref } = await h.installing(2);
    h.simulator.failNext('account', 1, { delayMs: 3_500 });
    const input = { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt };
    const beatsBeforeUsers = await provisionCountingBeats(input);
    assert.ok(beatsBeforeUsers >= 2, `heartbeats before the first page of users: ${beatsBeforeUsers}`);
  });

  it('a retry with the account read already saved heartbeats from its start while a page of users is slow', async () => {
    const { event, installed, ref } = await h.installing(2);
    const input = { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt };
    // The first attempt saves the account's facts, then fails on the users' page.
    h.simulator.failNext('licensedUsers', 1, { status: 500 });
    await assert.rejects(new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000 }).run(h.acts.provisionAccount, input), (err: Error) =>
      /answered 500/.test(err.message),
    );
    const accountReads = () => h.simulator.calls.filter((c) => c.route === 'account' && c.installationId === ref.installationId).length;
    const readsBefore = accountReads();
    assert.ok(readsBefore >= 1, 'the first attempt read the account');
    // The retry reads no account (saved): the slow page is its first Talkdesk call, as long as the heartbeat timeout.
    h.simulator.failNext('licensedUsers', 1, { delayMs: 3_500 });
    const beatsWhenAnswered = await provisionCountingBeats(input);
    assert.equal(accountReads(), readsBefore, 'the retry read no account: its facts were saved');
    assert.ok(beatsWhenAnswered >= 2, `heartbeats while the slow page was read: ${beatsWhenAnswered}`);
  });

  describe('with a partner that keeps no service records (HTTP hooks)', () => {
    let hk: ActivityHarness;
    const partner: PartnerProvisioner = {
      kind: 'test-hooks',
      provision: async () => ({ settingsRestored: false }),
      update: async () => undefined,
      revertUpdate: async () => undefined,
      undoProvision: async () => undefined,
      deprovision: async () => undefined,
      trial: async () => undefined,
    };
    before(async () => (hk = await startActivityHarness({ partner: () => partner })));
    after(() => hk?.close());

    it("heartbeats while the service writes its own records after the partner's call (every user's mapping)", async () => {
      const { event, installed, ref } = await hk.installing(2);
      // Thousands of users' mappings, one write each, take tens of seconds: here one slow write stands for them.
      const accounts = hk.store.accounts;
      const upsertUsers = accounts.upsertUsers.bind(accounts);
      const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000 });
      let beats = 0;
      let beatsInRecords: number | undefined;
      env.on('heartbeat', () => (beats += 1));
      accounts.upsertUsers = async (...args: Parameters<typeof upsertUsers>) => {
        const before = beats;
        await new Promise((r) => setTimeout(r, 4_500)); // heartbeats every second: two need room on a loaded machine
        beatsInRecords = beats - before;
        return upsertUsers(...args);
      };
      try {
        await env.run(hk.acts.provisionAccount, { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt });
      } finally {
        accounts.upsertUsers = upsertUsers;
      }
      assert.ok((beatsInRecords ?? 0) >= 2, `heartbeats while the records were written: ${beatsInRecords}`);
    });
  });
});
