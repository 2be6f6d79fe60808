import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { MongoClient, MongoServerSelectionError } from 'mongodb';
import { sanitiseFailures } from '../../activities';
import { STORE_UNAVAILABLE } from '../../activities/failures';
import { reconcileWorkflow } from '../../workflows/reconcile';
import { emptyPage, type PlannedPass } from '../../workflows/reconcile-types';
import { reconcileTestWorker, useOwnTimeSkippingEnv } from './reconcile-test-worker';

/**
 * A reconciliation pass whose store is down from its start: its housekeeping (the inbox hand-over, first) meets the
 * driver's error five times, each turned into the partner store's typed failure by the worker's interceptor, and the
 * pass fails with that failure, having visited nothing; the next pass, the store back, completes. On a time-skipping
 * server of its own (the backoffs skipped).
 */
describe('reconciliation: a pass with the partner store down', function () {
  this.timeout(180_000);
  const env = useOwnTimeSkippingEnv();

  it('fails after five attempts of its housekeeping with the store failure, visiting nothing; the next pass completes', async () => {
    let storeDown = true;
    const attempts: number[] = [];
    const pagesVisited: number[] = [];
    // The driver's own error for a store not reached (a port nothing listens on), as the worker's interceptor meets it.
    const unreachable = await new MongoClient('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300').connect().then(
      () => assert.fail('connected to a port nothing listens on'),
      (err: unknown) => err,
    );
    assert.ok(unreachable instanceof MongoServerSelectionError, String(unreachable));
    const activities = {
      dispatchStoredEvents: async () => {
        attempts.push(attempts.length + 1);
        if (storeDown) throw unreachable;
        return { dispatched: 0, errors: [] };
      },
      destroyRetiredCredentials: async () => ({ destroyed: 0 }),
      planReconciliation: async (i: { planId: string }): Promise<PlannedPass> => ({
        id: i.planId,
        pages: 1,
        startedAt: Date.now(),
        talkdeskPlanned: 0,
        talkdeskDeferred: 0,
      }),
      reconcilePlannedPage: async (i: { page: number }) => {
        pagesVisited.push(i.page);
        return { ...emptyPage(), scanned: 1, talkdeskChecked: 0 };
      },
    };
    // As the service's worker runs them: a raw driver error becomes the store's typed failure (activities/failures.ts).
    const { worker, taskQueue } = await reconcileTestWorker(env(), activities, 'reconcile-store-down', {
      interceptors: { activity: [sanitiseFailures] },
    });
    const pass = () =>
      env().client.workflow.execute(reconcileWorkflow, {
        taskQueue,
        workflowId: `reconcile-store-down-${randomBytes(4).toString('hex')}`,
        args: [{ pageSize: 10, parallelism: 1 }],
      });
    await worker.runUntil(async () => {
      const failed = await pass().then(
        () => assert.fail('the pass completed with the store down'),
        (err: unknown) => err,
      );
      assert.ok(failed instanceof WorkflowFailedError, String(failed));
      assert.ok(failed.cause instanceof ActivityFailure, String(failed.cause));
      const cause = failed.cause.cause;
      assert.ok(cause instanceof ApplicationFailure && cause.type === STORE_UNAVAILABLE, String(cause));
      assert.match(cause.message, /partner store \(MongoDB\)/);
      assert.deepEqual(attempts, [1, 2, 3, 4, 5], 'five attempts');
      assert.deepEqual(pagesVisited, [], 'nothing visited');

      storeDown = false;
      const report = await pass();
      assert.ok(report.finishedAt, 'the next pass completed');
      assert.deepEqual(pagesVisited, [0]);
    });
  });
});
