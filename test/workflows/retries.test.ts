import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { ActivityStubs, InstallationUnderTest, useTimeSkippingEnv } from './harness';

const throttled = (retryAfterMs: number) =>
  ApplicationFailure.create({ message: 'Talkdesk throttled the call (429)', type: 'TalkdeskRateLimited', details: [{ retryAfterMs }] });

/** How long the workflow waits between attempts, read from its history's timers. */
describe('installation workflow: retries', function () {
  this.timeout(60_000);
  const env = useTimeSkippingEnv();
  let t: InstallationUnderTest | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /** The durations (ms) of the timers the workflow started, shorter than a day and a half (the phase deadline is seven days). */
  const backoffTimers = async (): Promise<number[]> => {
    const history = await t!.handle.fetchHistory();
    return (history.events ?? [])
      .map((e) => e.timerStartedEventAttributes?.startToFireTimeout)
      .filter((d): d is NonNullable<typeof d> => d != null)
      .map((d) => Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6))
      .filter((ms) => ms < 36 * 3_600_000);
  };

  it("floors Talkdesk's Retry-After at one second and caps it at the retry maximum", async () => {
    const answers = [0, 0, 0, 24 * 3_600_000];
    // Provisioning is the install's first Talkdesk call (its token comes with it).
    const stubs = new ActivityStubs().on('provisionAccount', async (i) => {
      const next = answers.shift();
      if (next !== undefined) throw throttled(next);
      return { accountId: 'acct-1', accountName: String(i.accountName), licensedUsers: 1, settingsRestored: false };
    });
    t = await InstallationUnderTest.start(env(), stubs, { retryMaxMs: 10 * 60_000 });
    await t.send(t.event('app.installed'));
    // The day-long Retry-After would leave the install retrying; capped, it is approved within minutes.
    await env().sleep('11 minutes');
    await t.settled('active');
    assert.equal(t.stubs.of('provisionAccount').length, 5);
    assert.deepEqual(await backoffTimers(), [1_000, 1_000, 1_000, 600_000]);
  });
});
