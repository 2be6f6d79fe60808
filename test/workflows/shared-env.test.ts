import assert from 'node:assert/strict';
import { Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DAY, useInstallationUnderTest } from './harness';
import { suspectServer } from './shared-env';

/** Whether a server answers at `address` on a connection of its own (not the environment's, which is closed on our side). */
async function answers(address: string): Promise<boolean> {
  try {
    const c = await Connection.connect({ address, connectTimeout: '3s' });
    try {
      await c.workflowService.getSystemInfo({});
      return true;
    } finally {
      await c.close();
    }
  } catch {
    return false;
  }
}

/**
 * The harness itself: after a failed test the next one runs on a new time-skipping server and worker,
 * so a server that stalled (or locked time skipping) does not fail every test after it.
 */
describe('workflow-test harness: a new server after a failed test (shared-env.ts)', function () {
  this.timeout(120_000);
  const { env, start } = useInstallationUnderTest();
  let first: TestWorkflowEnvironment | undefined;
  let second: TestWorkflowEnvironment | undefined;

  it('a test runs on the shared server (then plays a failure, as the harness marks one)', async () => {
    first = env();
    const t = await start();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    suspectServer('harness self-test: a failure played');
  });

  it('the next test runs on a new server, where workflows run and days pass; the old one is stopped', async () => {
    assert.ok(first, 'the first test ran');
    second = env();
    assert.notEqual(second, first, 'a new server');
    assert.equal(await answers(second.address), true, 'the new server answers');
    assert.equal(await answers(first.address), false, 'the old server is stopped');
    const t = await start();
    const t0 = await env().currentTimeMs();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await env().sleep(2 * DAY);
    assert.ok((await env().currentTimeMs()) - t0 >= 2 * DAY, 'time skips on the new server');
    await t.send(t.event('app.uninstalled'));
    assert.equal((await t.result()).phase, 'uninstalled');
  });

  it('without a failure, the test after stays on the same server', () => {
    assert.ok(second, 'the second test ran');
    assert.equal(env(), second);
  });

  const servers: TestWorkflowEnvironment[] = [];
  it('(deliberately fails once) a failed attempt is retried on a new server', async () => {
    servers.push(env());
    const t = await start();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    if (servers.length === 1) throw new Error('deliberate first-attempt failure of the harness self-test');
    assert.equal(servers.length, 2);
    assert.notEqual(servers[1], servers[0], 'the retry ran on a new server');
  });
});
