import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { MongoClient, MongoServerError } from 'mongodb';
import * as activities from '../fixtures/harness-activities';
import { activitiesWorkflow, longTimerWorkflow } from '../fixtures/harness-workflows';
import { mongoUri, temporalDevEnv, timeSkippingEnv, uniqueDbName } from '../support/servers';

const workflowsPath = require.resolve('../fixtures/harness-workflows');

describe('test harness (real servers)', function () {
  this.timeout(120_000);

  it('runs a workflow with activities to completion on the Temporal dev server', async () => {
    const env = await temporalDevEnv();
    const taskQueue = `harness-${Date.now()}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath, activities });
    const result = await worker.runUntil(
      env.client.workflow.execute(activitiesWorkflow, { taskQueue, workflowId: `harness-${Date.now()}`, args: [['a', 'b']] }),
    );
    assert.deepEqual(result, ['A', 'B']);
  });

  it('completes a timer of days in seconds on the time-skipping server', async () => {
    const env = await timeSkippingEnv();
    try {
      const taskQueue = `timer-${Date.now()}`;
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath, activities });
      const started = await env.currentTimeMs();
      const result = await worker.runUntil(
        env.client.workflow.execute(longTimerWorkflow, { taskQueue, workflowId: `timer-${Date.now()}`, args: [30] }),
      );
      assert.equal(result, 'woke');
      // In the server's time (skipped), not the wall clock's: the suite's timeout bounds the real time.
      assert.ok((await env.currentTimeMs()) - started >= 30 * 86_400_000, 'thirty days passed on the server');
    } finally {
      await env.teardown();
    }
  });

  it('round-trips documents through the mongodb driver with a unique index enforced', async () => {
    const client = await MongoClient.connect(await mongoUri());
    try {
      const coll = client.db(uniqueDbName('harness')).collection<{ key: string; n: number }>('docs');
      await coll.createIndex({ key: 1 }, { unique: true });
      await coll.insertOne({ key: 'a', n: 1 });
      const found = await coll.findOne({ key: 'a' }, { projection: { _id: 0 } });
      assert.deepEqual(found, { key: 'a', n: 1 });
      await assert.rejects(coll.insertOne({ key: 'a', n: 2 }), (e: unknown) => e instanceof MongoServerError && e.code === 11000);
      assert.equal(await coll.countDocuments({ key: 'a' }), 1);
    } finally {
      await client.close();
    }
  });
});
