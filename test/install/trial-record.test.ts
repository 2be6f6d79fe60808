import assert from 'node:assert/strict';
import { trialToRecord } from '../../activities/trial-record';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * A trial event handled by a run that did not know the trial (one resumed from the installation record, or a short
 * run after the installation finished) sends an extension or an end without the trial's start: the account keeps the
 * start it holds (before, the record was overwritten without it). FerretDB, the activities, the MongoDB partner.
 */
describe('trial record: a run without the trial in its state', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  async function provisioned(): Promise<{ installationId: string; accountId: string }> {
    const { installation, event, ref } = await h.installing(2);
    const prov = await h.run(h.acts.provisionAccount, { ...ref, accountName: installation.accountName ?? '', eventId: event.id });
    return { installationId: installation.id, accountId: prov.accountId };
  }

  it('an extension and an end without the start keep the start the account holds; a new start replaces the trial', async () => {
    const { installationId, accountId } = await provisioned();
    const started = { startedAt: '2026-11-01T10:00:00.000Z', expiresAt: '2026-11-15T10:00:00.000Z' };
    await h.run(h.acts.recordTrial, { installationId, accountId, trial: started, eventType: 'app.trial_started', eventId: 't1' });
    // Extended, by a run that knows only the event's own fields.
    await h.run(h.acts.recordTrial, {
      installationId,
      accountId,
      trial: { expiresAt: '2026-11-30T10:00:00.000Z' },
      eventType: 'app.trial_extended',
      eventId: 't2',
      occurredAt: '2026-11-10T10:00:00.000Z',
    });
    assert.deepEqual((await h.store.accounts.getAccount(accountId))?.trial, {
      startedAt: started.startedAt,
      expiresAt: '2026-11-30T10:00:00.000Z',
    });
    const ended = { endedAt: '2026-11-20T10:00:00.000Z', endedReason: 'converted', endedBy: 'user-1' };
    const end = {
      installationId,
      accountId,
      trial: { expiresAt: undefined, ...ended },
      eventType: 'app.trial_ended',
      eventId: 't3',
      occurredAt: '2026-11-20T10:00:00.000Z',
    };
    // Twice: a second attempt of the same end (the first's answer lost) finds the trial its first attempt ended.
    for (const attempt of [1, 2]) {
      await h.run(h.acts.recordTrial, end);
      assert.deepEqual(
        (await h.store.accounts.getAccount(accountId))?.trial,
        { startedAt: started.startedAt, expiresAt: '2026-11-30T10:00:00.000Z', ...ended },
        `attempt ${attempt}`,
      );
    }
    // A new trial: recorded as sent, nothing of the ended one kept.
    const again = { startedAt: '2026-12-01T10:00:00.000Z', expiresAt: '2026-12-15T10:00:00.000Z' };
    await h.run(h.acts.recordTrial, { installationId, accountId, trial: again, eventType: 'app.trial_started', eventId: 't4' });
    assert.deepEqual((await h.store.accounts.getAccount(accountId))?.trial, again);
  });

  it("loadInstallation gives a live installation its account's trial (a resumed run starts from it): not an ended one, a disabled account's or another installation's", async () => {
    const { installationId, accountId } = await provisioned();
    const started = { startedAt: '2026-11-01T10:00:00.000Z', expiresAt: '2026-11-15T10:00:00.000Z' };
    await h.run(h.acts.recordTrial, { installationId, accountId, trial: started, eventType: 'app.trial_started', eventId: 't1' });
    const base = { installationId, workflowId: `installation-${installationId}`, appId: 'app-acts', links: {}, accountId };
    await h.run(h.acts.recordInstallation, { ...base, phase: 'active' });
    assert.deepEqual((await h.run(h.acts.loadInstallation, { installationId }))?.trial, started);
    const load = async () => (await h.run(h.acts.loadInstallation, { installationId }))?.trial;
    const set = (fields: object) => h.store.accounts.accounts.updateOne({ _id: accountId }, { $set: fields });
    // Ended: a later trial's event, its record given up, must not take its fields.
    await set({ 'trial.endedAt': '2026-11-10T10:00:00.000Z' });
    assert.equal(await load(), undefined);
    await set({ trial: started });
    // Disabled (an earlier life's, before a same-id reinstall provisions it again): not this life's trial.
    await set({ status: 'disabled' });
    assert.equal(await load(), undefined);
    await set({ status: 'provisioned' });
    assert.deepEqual(await load(), started);
    // The account reinstalled under another installation since: its trial is not this one's.
    await set({ installationId: 'inst-other' });
    assert.equal(await load(), undefined);
  });

  it("an account's trial that began after the event is not the event's trial: nothing of it is taken", () => {
    const stored = { startedAt: '2026-12-01T10:00:00.000Z', expiresAt: '2026-12-15T10:00:00.000Z' };
    const late = {
      trial: { expiresAt: '2026-11-30T10:00:00.000Z' },
      eventType: 'app.trial_extended',
      occurredAt: '2026-11-10T10:00:00.000Z',
    };
    assert.deepEqual(trialToRecord(late, stored), late.trial);
    // One that knows its start sends it as it is.
    const known = {
      trial: { startedAt: '2026-11-01T10:00:00.000Z', expiresAt: '2026-11-30T10:00:00.000Z' },
      eventType: 'app.trial_extended',
    };
    assert.deepEqual(trialToRecord(known, stored), known.trial);
    // An ended trial is not the one a later extension is for: nothing of it is taken.
    const endedBefore = { ...stored, startedAt: '2026-10-01T10:00:00.000Z', endedAt: '2026-10-15T10:00:00.000Z' };
    assert.deepEqual(trialToRecord(late, endedBefore), late.trial);
  });
});
