import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * A trial record is not overtaken by an earlier event's late attempt: an attempt of `recordTrial`
 * that timed out at the server (no heartbeat timeout stops it) may still write after the workflow
 * went on to the next trial event. Attempts are ordered by when Temporal scheduled them.
 * Activities in-process (the attempt's schedule time set as the server would), FerretDB, the simulator.
 */
describe('trial record: a late attempt of an earlier trial event does not overwrite a later one', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** Runs one attempt of recordTrial as scheduled at `at` (Unix ms). */
  const attempt = (at: number, input: Parameters<ActivityHarness['acts']['recordTrial']>[0]) =>
    new MockActivityEnvironment({ currentAttemptScheduledTimestampMs: at, startToCloseTimeoutMs: 60_000 }).run(h.acts.recordTrial, input);

  it('the zombie attempt of trial_started, ending after trial_ended was recorded, leaves trial_ended', async () => {
    const { event, installed, ref } = await h.installing(1);
    const prov = await h.run(h.acts.provisionAccount, { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt });
    const base = { installationId: ref.installationId, accountId: prov.accountId };
    const started = { startedAt: '2026-12-01T00:00:00.000Z', expiresAt: '2026-12-31T00:00:00.000Z' };
    const ended = { ...started, endedAt: '2026-12-10T00:00:00.000Z', endedReason: 'converted' };
    const t0 = Date.now();
    // trial_started's first attempt is scheduled at t0 and stalls; the server times it out and its retry
    // (t0 + 61 s) records it; then trial_ended (t0 + 70 s) is recorded.
    await attempt(t0 + 61_000, { ...base, trial: started, eventType: 'app.trial_started', eventId: 'ev-started' });
    await attempt(t0 + 70_000, { ...base, trial: ended, eventType: 'app.trial_ended', eventId: 'ev-ended' });
    // The stalled first attempt of trial_started finally writes.
    await attempt(t0, { ...base, trial: started, eventType: 'app.trial_started', eventId: 'ev-started' });
    const account = await h.store.accounts.getAccount(prov.accountId);
    assert.deepEqual(account?.trial, ended, 'the later event stands');
    assert.equal(account?.trialAttemptAt, t0 + 70_000);

    // A later event's attempt still records (the order is by attempt, not a one-way latch).
    const extended = { ...ended, expiresAt: '2027-01-15T00:00:00.000Z' };
    await attempt(t0 + 80_000, { ...base, trial: extended, eventType: 'app.trial_extended', eventId: 'ev-extended' });
    assert.deepEqual((await h.store.accounts.getAccount(prov.accountId))?.trial, extended);
  });

  /** The store's answer comes late (the worker waits on it; its beats go on). */
  const slowStore = () => new Promise((r) => setTimeout(r, 300)); // the stall itself, not a wait for something
  /** The worker's event loop blocked past the heartbeat timeout (no beat sent), then beats resumed before the answer. */
  const blockedWorker = async () => {
    const until = Date.now() + 1_200; // longer than the 1 s beat: the overdue beat fires before the store's answer
    while (Date.now() < until); // the block itself, not a wait for something
    await new Promise((r) => setTimeout(r, 0));
  };
  for (const [what, timeouts, stall, refused] of [
    ['its start-to-close timeout', { startToCloseTimeoutMs: 200 }, slowStore, /outlived its 200 ms timeout/],
    // Run with a heartbeat timeout (trial-record-waits-for-cancellation): silent past it, the server timed it out too.
    [
      'its heartbeat timeout',
      { startToCloseTimeoutMs: 600_000, heartbeatTimeoutMs: 200 },
      slowStore,
      /timed out or cancelled \(silent for/,
    ],
    // Beats resumed after the block do not make it alive again: the server timed it out while it was silent.
    [
      'its heartbeat timeout in a blocked worker',
      { startToCloseTimeoutMs: 600_000, heartbeatTimeoutMs: 200 },
      blockedWorker,
      /timed out or cancelled/,
    ],
  ] as const) {
    it(`an attempt that outlived ${what} before it reached the partner sends nothing`, async () => {
      await stalledAttempt(timeouts, stall, refused);
    });
  }

  async function stalledAttempt(
    timeouts: { startToCloseTimeoutMs: number; heartbeatTimeoutMs?: number },
    stall: () => Promise<unknown>,
    refused: RegExp,
  ) {
    const { event, installed, ref } = await h.installing(1);
    const prov = await h.run(h.acts.provisionAccount, { ...ref, accountName: '', eventId: event.id, occurredAt: installed.createdAt });
    const started = { startedAt: '2026-12-01T00:00:00.000Z', expiresAt: '2026-12-31T00:00:00.000Z' };
    // The store stalls past the attempt's 200 ms timeout while the activity looks the account up.
    const accounts = h.store.accounts;
    const getAccount = accounts.getAccount.bind(accounts);
    accounts.getAccount = async (id) => {
      accounts.getAccount = getAccount;
      const found = await getAccount(id);
      await stall();
      return found;
    };
    const env = new MockActivityEnvironment({ ...timeouts, currentAttemptScheduledTimestampMs: Date.now() });
    await assert.rejects(
      env.run(h.acts.recordTrial, { installationId: ref.installationId, accountId: prov.accountId, trial: started, eventId: 'ev-t' }),
      refused,
    );
    assert.equal(accounts.getAccount, getAccount, 'the stall ran');
    assert.equal((await h.store.accounts.getAccount(prov.accountId))?.trial, undefined, 'nothing recorded');
  }
});
