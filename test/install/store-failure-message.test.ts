import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, sanitiseFailures } from '../../activities';
import { STORE_UNAVAILABLE } from '../../activities/failures';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { createLogger } from '../../src/logging/logger';
import { connectDatabase, createStore, type Database } from '../../src/store';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { throughProxy } from '../support/mongo-proxy';
import { mongoUri, uniqueDbName } from '../support/servers';
import { hostPort, startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

/**
 * A store step whose MongoDB goes away, run as the worker runs it (the `sanitiseFailures`
 * interceptor around the real activity, a real FerretDB behind a proxy that cuts it): the
 * failure that reaches history names the partner store and the step, not Talkdesk.
 */
describe('activities: a store step failing because MongoDB is unreachable', function () {
  this.timeout(30_000);
  let proxy: TcpProxy;
  let db: Database;

  before(async () => {
    const uri = await mongoUri();
    const { host, port } = hostPort(uri);
    proxy = await startTcpProxy(host, port);
    db = await connectDatabase(throughProxy(uri, proxy), uniqueDbName('storefail'));
  });
  after(async () => {
    await db?.close();
    await proxy?.close();
  });

  it('fails with a retryable StoreUnavailable naming the partner store and the step, no address or secret', async () => {
    const store = createStore(db, parseKeyring(generateKeySpec('sf1')));
    const acts = createActivities({
      store,
      talkdesk: new TalkdeskClient({ allowedHosts: [], timeoutMs: 5_000 }),
      logger: createLogger({ level: 'silent' }),
    });
    const env = new MockActivityEnvironment({ activityType: 'loadInstallation' }, { interceptors: [sanitiseFailures] });
    // Control: the same step answers while MongoDB is reachable.
    assert.equal(await env.run(acts.loadInstallation, { installationId: 'inst-storefail' }), null);

    proxy.block();
    const failure = await env.run(acts.loadInstallation, { installationId: 'inst-storefail' }).then(
      () => assert.fail('the step succeeded with MongoDB cut off'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof ApplicationFailure, String(failure));
    assert.equal(failure.type, STORE_UNAVAILABLE);
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /^The partner store \(MongoDB\) failed in loadInstallation \(Mongo\w*Error/);
    assert.match(failure.message, /Check that MONGODB_URI reaches a healthy database/);
    const recorded = JSON.stringify({ message: failure.message, details: failure.details, cause: failure.cause });
    assert.doesNotMatch(recorded, /Talkdesk|127\.0\.0\.1|mongodb:\/\//);
  });
});
