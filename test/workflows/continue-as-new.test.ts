import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { InstallationInput } from '../../workflows/installation/workflow';
import {
  ActivityStubs,
  DAY,
  InstallationUnderTest,
  blockingUntilCancelled,
  clientIdFor,
  phases,
  unavailable,
  useInstallationUnderTest,
} from './harness';
import { timerDurations } from './scenarios';

type History = temporal.api.history.v1.IHistory;
const HOUR = 3_600_000;
const PROVISION = 'provision the partner account and its users';

/** A phase retrying for hours continues as new mid-phase (at a backoff) and the next run re-enters it. */
describe('installation workflow: continue-as-new mid-phase', function () {
  this.timeout(120_000);
  const { env, start } = useInstallationUnderTest();

  /** Every run of the workflow, oldest first, following the ContinuedAsNew chain from the first run. */
  const runs = async (t: InstallationUnderTest): Promise<History[]> => {
    const latest = await t.handle.fetchHistory();
    const first = latest.events?.[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId;
    assert.ok(first, 'the run names its first run');
    const out: History[] = [];
    for (let runId: string | null | undefined = first; runId;) {
      const h = await env().client.workflow.getHandle(t.handle.workflowId, runId).fetchHistory();
      out.push(h);
      runId = h.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    }
    return out;
  };
  const inputOf = (h: History): InstallationInput => {
    const payload = h.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    assert.ok(payload, 'the run has an input');
    return defaultPayloadConverter.fromPayload<InstallationInput>(payload);
  };
  /** The backoff timers of a run (ms), without the phase's seven-day deadline. */
  const backoffs = (h: History): number[] => timerDurations(h).filter((ms) => ms < DAY);

  it('cuts a long retrying install at a backoff and resumes it: one approval, same deadline, one phase entry', async () => {
    const failures = 30;
    const runOfCall: string[] = [];
    const stubs = new ActivityStubs().on('provisionAccount', async (i) => {
      runOfCall.push(Context.current().info.workflowExecution?.runId ?? '');
      if (runOfCall.length <= failures) throw unavailable();
      return { accountId: 'acct-1', accountName: String(i.accountName), licensedUsers: 1, settingsRestored: false };
    });
    // About eleven events an attempt: a run holds a handful of attempts.
    const t = await start(stubs, { retryInitialMs: 1_000, retryMaxMs: 4_000, maxHistoryEventsPerRun: 80 });
    const install = t.event('app.installed');
    await t.send(install);
    await env().sleep('3 hours');
    const v = await t.settled('active');

    assert.equal(stubs.of('provisionAccount').length, failures + 1);
    assert.deepEqual(stubs.stateCalls(), ['approve:install'], 'approved once');
    assert.equal(stubs.of('setInstallationState')[0]?.checkFirst, true, 'a re-entered phase reads Talkdesk before its state call');
    assert.equal(v.history.length, 1, `one phase-history entry: ${JSON.stringify(v.history)}`);
    const [entry] = v.history;
    assert.equal(entry?.phase, 'installing');
    assert.equal(entry?.result, 'approved');
    assert.equal(entry?.deadline, new Date(Date.parse(install.createdAt) + 7 * DAY - HOUR).toISOString(), 'the same deadline');

    const chain = await runs(t);
    assert.ok(chain.length >= 3, `continued as new mid-phase more than once (${chain.length} runs)`);
    assert.ok(new Set(runOfCall).size >= 3, 'provisioning was attempted in several runs');
    for (const [n, run] of chain.entries()) {
      assert.ok((run.events?.length ?? 0) < 80 + 30, `run ${n} stayed near the threshold (${run.events?.length} events)`);
      if (n === 0) continue;
      const carried = inputOf(run).carried;
      assert.equal(carried?.resume?.event.eventId, install.eventId, `run ${n} re-enters the install`);
      assert.equal(carried?.resume?.step, PROVISION);
      assert.equal(carried?.phase, 'installing');
      assert.equal(carried?.deadline, entry?.deadline);
      // The attempt count goes on: no short backoff again (1 s, 2 s) after the first run, only the 4 s maximum
      // (the run's first wait is what was left of the backoff the previous run was cut in).
      const [, ...after] = backoffs(run);
      assert.ok(
        after.every((ms) => ms === 4_000),
        `run ${n} backs off at the maximum: ${JSON.stringify(backoffs(run))}`,
      );
      assert.ok(carried!.resume!.attempt > (inputOf(chain[n - 1]!).carried?.resume?.attempt ?? 0), 'the attempt count grows');
    }
  });

  it('an uninstall stops an install carried over mid-phase: provisioning undone, no approval', async () => {
    // Failing in the first run (it continues as new at a backoff); in the run carried over, running until cancelled.
    const blocking = blockingUntilCancelled();
    let firstRun: string | undefined;
    const stubs = new ActivityStubs().on('provisionAccount', async (i) => {
      const runId = Context.current().info.workflowExecution?.runId;
      firstRun ??= runId;
      if (runId === firstRun) throw unavailable();
      return blocking.stub(i);
    });
    const t = await start(stubs, { retryInitialMs: 100, retryMaxMs: 200, maxHistoryEventsPerRun: 60 });
    await t.send(t.event('app.installed'));
    // The uninstall arrives while the re-entered phase's activity runs (a cancel sent as another activity
    // completes is refused by the time-skipping server, ACTIVITY_UNKNOWN, and would wedge the test).
    await blocking.started;
    await t.send(t.event('app.uninstalled'));
    const v = await t.result();
    await blocking.stopped;

    assert.equal(v.phase, 'uninstalled');
    assert.deepEqual(phases(v), ['installing', 'uninstalling']);
    assert.equal(v.history[0]?.result, 'interrupted');
    assert.ok(stubs.of('undoProvisioning').length >= 1, 'provisioning undone');
    assert.deepEqual(stubs.stateCalls(), ['approve:uninstall'], 'no approval of the install');
    assert.ok((await runs(t)).length >= 2, 'the install was carried over mid-phase');
  });
  it("a rotation cut at its acknowledgement's backoff, then again at its token step, still sends the acknowledgement as resent (a 409 then completes it)", async () => {
    let tokens = 0;
    let tokenFailuresLeft = 10;
    const stubs = new ActivityStubs()
      .on('obtainToken', async () => {
        tokens += 1;
        // The install's token, then the rotation's (its set proven); from the run re-entered after the cut, failing a while.
        if (tokens > 2 && tokenFailuresLeft > 0) {
          tokenFailuresLeft -= 1;
          throw unavailable();
        }
        return { expiresAt: new Date(Date.now() + 3_600_000).toISOString(), scope: 'apps:write', cached: false };
      })
      .on('acknowledgeCredentials', async (i) => {
        // Landed at Talkdesk, its answer lost, until the token's outage is over; then Talkdesk answers 409 (acknowledged).
        if (tokenFailuresLeft > 0) throw unavailable();
        if (!i.resent) throw ApplicationFailure.nonRetryable('Talkdesk answered 409', 'TalkdeskConflict');
      });
    const t = await start(stubs, { retryInitialMs: 1_000, retryMaxMs: 4_000, maxHistoryEventsPerRun: 60 });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: false } });
    await t.send(rotation);
    await env().sleep('2 hours');
    const v = await t.settled('active', (s) => s.activeClientId === clientIdFor(rotation.eventId));
    assert.equal(v.history.at(-1)?.result, 'rotated', v.history.at(-1)?.outcome);
    const steps = (await runs(t)).slice(1).map((run) => inputOf(run).carried?.resume?.step);
    assert.ok(steps.includes('acknowledge the rotation at Talkdesk'), `cut at the acknowledgement: ${JSON.stringify(steps)}`);
    assert.ok(steps.includes('prove the new credentials by getting a token'), `then at the token step: ${JSON.stringify(steps)}`);
    assert.equal(stubs.of('acknowledgeCredentials').at(-1)?.resent, true);
  });
});
