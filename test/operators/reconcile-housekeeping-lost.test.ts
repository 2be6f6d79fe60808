import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { reconcileWorkflow } from '../../workflows/reconcile';
import { emptyPage, type PlannedPass } from '../../workflows/reconcile-types';
import { reconcileTestWorker, useOwnTimeSkippingEnv } from './reconcile-test-worker';

/**
 * A reconciliation pass whose housekeeping attempt is lost with its worker (killed, or its completion lost
 * in a Temporal restart): the attempt never heartbeats nor completes. The pass retries it after its heartbeat
 * timeout (a minute), not after its whole start-to-close timeout (5 minutes, while the schedule skipped every
 * pass behind it). On a time-skipping server of its own.
 */
describe('reconciliation: a housekeeping attempt lost with its worker', function () {
  this.timeout(180_000);
  const env = useOwnTimeSkippingEnv();

  // One step stands for all: the inbox hand-over, the backstops, the id scan and the plan share one proxy.
  // (The test server does not skip time while an activity is in flight: the lost attempt's minute is real.)
  const lost = 'dispatchStoredEvents';
  it(`${lost}: retried after its heartbeat timeout, not its start-to-close timeout, and the pass completes`, async () => {
    const attempts: { attempt: number; scheduledMs: number }[] = [];
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    /** The first attempt of `lost` hangs, silent, until the test ends (its worker "gone"); later ones answer. */
    const hangFirst = async <T>(name: string, answer: () => T): Promise<T> => {
      if (name !== lost) return answer();
      const info = Context.current().info;
      attempts.push({ attempt: info.attempt, scheduledMs: info.currentAttemptScheduledTimestampMs });
      if (info.attempt === 1) {
        await Promise.race([released, new Promise((r) => Context.current().cancellationSignal.addEventListener('abort', r))]);
        throw new Error('the lost attempt ended with the test');
      }
      return answer();
    };
    const activities = {
      dispatchStoredEvents: () => hangFirst('dispatchStoredEvents', () => ({ dispatched: 0, errors: [] })),
      destroyRetiredCredentials: () => hangFirst('destroyRetiredCredentials', () => ({ destroyed: 0 })),
      planReconciliation: (i: { planId: string }) =>
        hangFirst('planReconciliation', (): PlannedPass => ({
          id: i.planId,
          pages: 1,
          startedAt: Date.now(),
          talkdeskPlanned: 0,
          talkdeskDeferred: 0,
        })),
      reconcilePlannedPage: async () => ({ ...emptyPage(), scanned: 1, talkdeskChecked: 0 }),
    };
    const { worker, taskQueue } = await reconcileTestWorker(env(), activities, 'reconcile-lost');
    const report = await worker.runUntil(async () => {
      try {
        return await env().client.workflow.execute(reconcileWorkflow, {
          taskQueue,
          workflowId: `reconcile-lost-${randomBytes(4).toString('hex')}`,
          args: [{ pageSize: 10, parallelism: 1 }],
        });
      } finally {
        release();
      }
    });
    assert.ok(report.finishedAt, 'the pass completed');
    assert.deepEqual(
      attempts.map((a) => a.attempt),
      [1, 2],
      'the lost attempt was retried once',
    );
    const waitedMs = attempts[1]!.scheduledMs - attempts[0]!.scheduledMs;
    // A minute of heartbeat timeout and the retry's second of backoff; without a heartbeat timeout, 5 minutes.
    assert.ok(waitedMs >= 60_000 && waitedMs < 2 * 60_000, `the retry came ${Math.round(waitedMs / 1000)} s after the lost attempt`);
  });
});
