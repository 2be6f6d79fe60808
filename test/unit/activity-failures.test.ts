import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput } from '@temporalio/worker';
import type { Context } from '@temporalio/activity';
import { sanitiseFailures, STORE_UNAVAILABLE } from '../../activities/failures';
import { MongoServerError } from 'mongodb';

/** Runs the worker's activity interceptor around `fn`, as the SDK does for every activity. */
async function intercepted(fn: () => Promise<unknown>): Promise<unknown> {
  const { inbound } = sanitiseFailures({} as Context);
  assert.ok(inbound?.execute, 'the interceptor wraps activity execution');
  const input: ActivityExecuteInput = { args: [], headers: {} };
  try {
    return await inbound.execute(input, () => fn());
  } catch (err) {
    return err;
  }
}

describe('activities/failures sanitiseFailures (the worker-registered activity interceptor)', () => {
  const secret = 'Zr8vQ2xK7pLmN4tW9cYb1HsJ6dFgA3eUoRi5ViTq0nXw';

  it('passes results through unchanged', async () => {
    assert.deepEqual(await intercepted(async () => ({ clientId: 'c1' })), { clientId: 'c1' });
  });

  it('turns any raw error into a failure that names neither the secret nor the stack', async () => {
    const raw = Object.assign(new Error(`request failed with secret ${secret}`), { config: { headers: { authorization: secret } } });
    const failure = await intercepted(() => Promise.reject(raw));
    assert.ok(failure instanceof ApplicationFailure, String(failure));
    const seen = JSON.stringify({ message: failure.message, details: failure.details, type: failure.type, cause: failure.cause });
    assert.ok(!seen.includes(secret), seen);
    assert.ok(!failure.message.includes(raw.stack?.split('\n')[1]?.trim() ?? 'never'), failure.message);
  });

  it('keeps a typed failure as it is, and maps store outages to a retryable failure', async () => {
    const typed = ApplicationFailure.create({ type: 'CredentialsMissing', message: 'none', nonRetryable: true });
    assert.equal(await intercepted(() => Promise.reject(typed)), typed);
    const outage = await intercepted(() => Promise.reject(new MongoServerError({ message: `auth failed for ${secret}` })));
    assert.ok(outage instanceof ApplicationFailure);
    assert.equal(outage.type, STORE_UNAVAILABLE);
    assert.equal(outage.nonRetryable, false);
    assert.ok(!outage.message.includes(secret), outage.message);
  });
});
