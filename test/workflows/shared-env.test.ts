import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DAY, useInstallationUnderTest } from './harness';
import { suspectServer } from './shared-env';

/**
 * The harness itself: after a failed test the next one runs on a new time-skipping server and worker,
 * so a server that stalled (or locked time skipping) does not fail every test after it. The failure
 * is played by marking the server suspect, as the harness does when a test fails.
 */
describe('workflow-test harness: a new server after a failed test (shared-env.ts)', function () {
  this.timeout(120_000);
  const { env, start } = useInstallationUnderTest();
  let first: TestWorkflowEnvironment | undefined;
  let second: TestWorkflowEnvironment | undefined;

  it('a test runs on the shared server (then plays a failure)', async () => {
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
    await assert.rejects(first.client.workflow.count(), 'the old server is stopped and its connection closed');
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
});
