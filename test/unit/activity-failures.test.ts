import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput } from '@temporalio/worker';
import type { Context } from '@temporalio/activity';
import {
  CREDENTIALS_UNREADABLE,
  SECRETS_KEY_MISSING,
  sanitiseFailures,
  STORE_UNAVAILABLE,
  UNEXPECTED_ACTIVITY_ERROR,
} from '../../activities/failures';
import { decryptJson, encryptJson } from '../../src/crypto/secrets';
import { generateKeySpec, parseKeyring } from '../../src/crypto/keyring';
import { MongoNetworkError, MongoServerError } from 'mongodb';
import { TalkdeskHttpError } from '../../src/talkdesk/errors';
import { PartnerRefusedError, PartnerUnavailableError } from '../../src/partner/errors';
import { PARTNER_REFUSED } from '../../workflows/activity-types';

/** Runs the worker's activity interceptor around `fn`, as the SDK does for every activity. */
async function intercepted(fn: () => Promise<unknown>, activityType = 'someActivity'): Promise<unknown> {
  const { inbound } = sanitiseFailures({ info: { activityType } } as Context);
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

  it("cleans a refusal a partner's own provisioner throws: no control characters or markup, at most 200 characters", async () => {
    const raw = `${'x'.repeat(5_000)}\n<b>bold</b>`;
    const failure = (await intercepted(async () => {
      throw new PartnerRefusedError(`Plan not allowed\r\n<script>${raw}`, 422);
    })) as ApplicationFailure;
    assert.equal(failure.type, PARTNER_REFUSED);
    assert.equal(failure.nonRetryable, true);
    assert.ok(failure.message.length <= 200, `${failure.message.length} characters`);
    assert.match(failure.message, /^Plan not allowed script x+…$/);
  });

  it("cleans an unavailable error a partner's own provisioner throws: URL credentials scrubbed, bounded; the HTTP client's kept whole", async () => {
    const raw = 'fetch failed: https://ops:hunter2@crm.example/api?api_key=sk_live_123&token=s3cret-token-value\u0000' + 'x'.repeat(900);
    const failure = (await intercepted(() => Promise.reject(new PartnerUnavailableError(raw)))) as ApplicationFailure;
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.nonRetryable, false);
    for (const secret of ['hunter2', 'sk_live_123', 's3cret-token-value', '\u0000'])
      assert.ok(!failure.message.includes(secret), failure.message);
    assert.ok(failure.message.length <= 530, `${failure.message.length} characters`);
    const own = 'the partner answered 409 without a reason: taken as an earlier request with this idempotency-key still in progress';
    const kept = (await intercepted(() => Promise.reject(new PartnerUnavailableError(own)))) as ApplicationFailure;
    assert.equal(kept.message, `${own}; it will be retried`);
  });

  it("a refusal a partner's own provisioner throws without a reason string is still final (the generic reason)", async () => {
    const failure = (await intercepted(async () => {
      throw new PartnerRefusedError(undefined as unknown as string, 403);
    })) as ApplicationFailure;
    assert.equal(failure.type, PARTNER_REFUSED);
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.message, 'The partner refused the request');
  });

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

  describe('a failure that is not from Talkdesk says what failed, and never a secret', () => {
    const uri = `mongodb://appconnect:${secret}@db.internal:27017/appconnect?authSource=admin`;
    /** Everything of a failure that reaches history. */
    const recorded = (f: ApplicationFailure) => JSON.stringify({ message: f.message, details: f.details, type: f.type, cause: f.cause });
    const assertSafe = (f: ApplicationFailure) => {
      const seen = recorded(f);
      for (const leak of [secret, uri, 'db.internal']) assert.ok(!seen.includes(leak), `${leak} in ${seen}`);
      assert.doesNotMatch(f.message, /Talkdesk/, 'not blamed on Talkdesk');
    };

    it('a MongoDB error in a store step names the partner store, the step and what to check', async () => {
      const err = new MongoServerError({
        message: `connection to ${uri} failed: auth`,
        errmsg: uri,
        code: 18,
        codeName: 'AuthenticationFailed',
      });
      const failure = await intercepted(() => Promise.reject(err), 'recordInstallation');
      assert.ok(failure instanceof ApplicationFailure);
      assert.equal(failure.type, STORE_UNAVAILABLE);
      assert.equal(failure.nonRetryable, false);
      assert.match(
        failure.message,
        /^The partner store \(MongoDB\) failed in recordInstallation \(MongoServerError 18\); it will be retried/,
      );
      assert.match(failure.message, /Check that MONGODB_URI reaches a healthy database/);
      assertSafe(failure);
      const network = await intercepted(() => Promise.reject(new MongoNetworkError(`connect ECONNREFUSED ${uri}`)), 'loadInstallation');
      assert.ok(network instanceof ApplicationFailure);
      assert.equal(network.type, STORE_UNAVAILABLE);
      assertSafe(network);
    });

    it("a MongoDB error from another copy of the driver (a partner provisioner's own) is a store failure too", async () => {
      const foreign = Object.assign(new Error(`server selection timed out for ${uri}`), { name: 'MongoServerSelectionError' });
      const failure = await intercepted(() => Promise.reject(foreign), 'recordTrial');
      assert.ok(failure instanceof ApplicationFailure);
      assert.equal(failure.type, STORE_UNAVAILABLE);
      assertSafe(failure);
    });

    it('an unknown error names its class, the activity and where it most likely came from', async () => {
      const inStore = await intercepted(() => Promise.reject(new TypeError(`cannot read ${uri}`)), 'switchCredentials');
      assert.ok(inStore instanceof ApplicationFailure);
      assert.equal(inStore.type, UNEXPECTED_ACTIVITY_ERROR);
      assert.equal(inStore.nonRetryable, false);
      assert.match(inStore.message, /^Unexpected TypeError in switchCredentials, most likely from the partner store \(MongoDB\)/);
      assert.match(inStore.message, /it will be retried/);
      assertSafe(inStore);

      const inPartner = await intercepted(() => Promise.reject(Object.assign(new Error(uri), { code: 'ECONNRESET' })), 'recordTrial');
      assert.ok(inPartner instanceof ApplicationFailure);
      assert.match(
        inPartner.message,
        /^Unexpected Error \(ECONNRESET\) in recordTrial, most likely from the partner's backend \(PARTNER_PROVISIONER\)/,
      );
      assertSafe(inPartner);
      assert.deepEqual(inPartner.details, [{ name: 'Error', code: 'ECONNRESET', activityType: 'recordTrial' }]);
    });

    it('a secret whose key id SECRETS_KEY no longer lists is retried (put the key back); one that fails to decrypt is not', async () => {
      const context = { installationId: 'inst-1', collection: 'credentials', field: 'secret', clientId: 'c1' };
      const oldRing = parseKeyring(generateKeySpec('old'));
      const blob = encryptJson(oldRing, { clientSecret: secret }, context);
      const newRing = parseKeyring(generateKeySpec('new'));
      const missing = await intercepted(async () => decryptJson(newRing, blob, context), 'obtainToken');
      assert.ok(missing instanceof ApplicationFailure, String(missing));
      assert.equal(missing.type, SECRETS_KEY_MISSING);
      assert.equal(missing.nonRetryable, false, 'retried until the key is back or the deadline');
      assert.match(missing.message, /key id "old".*it will be retried\. Put that key back in SECRETS_KEY/);
      assert.ok(!missing.message.includes(secret));

      // The import also runs outside any phase, where nothing would end the retries: final there.
      const importing = await intercepted(async () => decryptJson(newRing, blob, context), 'importCredentials');
      assert.ok(importing instanceof ApplicationFailure, String(importing));
      assert.equal(importing.type, CREDENTIALS_UNREADABLE);
      assert.equal(importing.nonRetryable, true);
      assert.match(importing.message, /Check that SECRETS_KEY still lists the key id/);

      const tampered = { ...blob, ct: Buffer.from('not the ciphertext').toString('base64') };
      const unreadable = await intercepted(async () => decryptJson(oldRing, tampered, context), 'obtainToken');
      assert.ok(unreadable instanceof ApplicationFailure, String(unreadable));
      assert.equal(unreadable.type, CREDENTIALS_UNREADABLE);
      assert.equal(unreadable.nonRetryable, true, 'damaged data: retrying cannot fix it');
    });

    it('a Talkdesk error keeps its own type and message', async () => {
      const failure = await intercepted(
        () => Promise.reject(new TalkdeskHttpError({ status: 503, endpoint: 'GET /account' })),
        'provisionAccount',
      );
      assert.ok(failure instanceof ApplicationFailure);
      assert.equal(failure.type, 'TalkdeskUnavailable');
    });
  });
});
