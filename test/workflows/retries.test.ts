import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { ActivityStubs, InstallationUnderTest, useInstallationUnderTest } from './harness';
import { timerDurations } from './scenarios';

const throttled = (retryAfterMs: number) =>
  ApplicationFailure.create({ message: 'Talkdesk throttled the call (429)', type: 'TalkdeskRateLimited', details: [{ retryAfterMs }] });

/** How long the workflow waits between attempts, read from its history's timers. */
describe('installation workflow: retries', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  /** The durations (ms) of the timers the workflow started, shorter than a day and a half (the phase deadline is seven days). */
  const backoffTimers = async (t: InstallationUnderTest): Promise<number[]> =>
    timerDurations(await t.handle.fetchHistory()).filter((ms) => ms < 36 * 3_600_000);

  it("floors Talkdesk's Retry-After at one second and caps it at the retry maximum", async () => {
    const answers = [0, 0, 0, 24 * 3_600_000];
    // Provisioning is the install's first Talkdesk call (its token comes with it).
    const stubs = new ActivityStubs().on('provisionAccount', async (i) => {
      const next = answers.shift();
      if (next !== undefined) throw throttled(next);
      return { accountId: 'acct-1', accountName: String(i.accountName), licensedUsers: 1, settingsRestored: false };
    });
    const t = await start(stubs, { retryMaxMs: 10 * 60_000 });
    await t.send(t.event('app.installed'));
    // The day-long Retry-After would leave the install retrying; capped, it is approved within minutes.
    await env().sleep('11 minutes');
    await t.settled('active');
    assert.equal(t.stubs.of('provisionAccount').length, 5);
    assert.deepEqual(await backoffTimers(t), [1_000, 1_000, 1_000, 600_000]);
  });
});
