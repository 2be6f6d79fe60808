import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { createLogger } from '../../src/logging/logger';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { StateCallInput } from '../../workflows/activity-types';
import { useSystem, type TestSystem } from '../support/system';
import { finalView, waitForPhase } from '../support/waits';

/**
 * A Talkdesk that revokes the app's credentials once the uninstall is acknowledged (its docs are
 * silent on it): a retried acknowledgement whose first answer was lost meets `invalid_client`,
 * which is that acknowledgement's effect, not a failure.
 */
describe('uninstall acknowledgement when Talkdesk revokes the credentials (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { revokeOnUninstall: true });

  const deliver = async (event: unknown) => {
    assert.equal(await sys.simulator.deliver(event as never, { callbackUrl: sys.web.callbackUrl }), 200);
  };

  async function activeInstallation() {
    const { installation, event } = sys.simulator.createInstallation();
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');
    return { installation, event };
  }

  it('a retry after a lost answer concludes the uninstall as acknowledged: one state call, nothing failed', async () => {
    const { installation } = await activeInstallation();
    // The acknowledgement takes effect at once but answers after the client's 3 s timeout.
    sys.simulator.failNext('installationState', 1, { delayMs: 4_500 });
    await deliver(sys.simulator.uninstall(installation.id));
    const done = await finalView(sys.client, installation.id);
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(
      done.history.map((h) => [h.phase, h.result]),
      [
        ['installing', 'approved'],
        ['uninstalling', 'acknowledged'],
      ],
    );
    assert.equal(sys.simulator.stateCalls(installation.id).length, 2, 'the install approval and one acknowledgement');
    const refused = sys.simulator.calls.filter((c) => c.route === 'token' && c.status !== 200);
    assert.ok(refused.length >= 1, 'the retry did meet the revoked credentials');
    const account = await sys.store.accounts.findByInstallation(installation.id);
    assert.equal(account?.status, 'disabled', 'deprovisioned locally too');
  });

  it('the activity: invalid_client concludes the acknowledgement only when an earlier attempt may have landed', async () => {
    const { installation, event } = await activeInstallation();
    sys.simulator.uninstall(installation.id); // open at Talkdesk; the event is not delivered, the activity alone acts
    const activities = createActivities({
      store: sys.store,
      talkdesk: new TalkdeskClient({ allowedHosts: [`127.0.0.1:${sys.simulator.port}`], timeoutMs: 5_000 }),
      logger: createLogger({ level: 'silent' }),
    });
    const input: StateCallInput = {
      installationId: installation.id,
      appId: sys.simulator.appId,
      clientId: event.data.client_id,
      rootUrl: event._links.root.href,
      state: 'approve',
      concludes: 'uninstall',
      checkFirst: true,
    };
    const run = (i: StateCallInput) => new MockActivityEnvironment().run(activities.setInstallationState, i);
    assert.deepEqual(await run(input), { state: 'revoked' }, 'the first attempt acknowledges');
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'revoked');

    // The cached token was revoked with its client: a plain 401, retried with a fresh token (dropped from the cache).
    await assert.rejects(run({ ...input, resent: true }), /access token was refused/);
    await assert.rejects(run(input), /client credentials were refused/, 'a first attempt: the refusal is a failure');
    assert.deepEqual(await run({ ...input, resent: true }), { state: 'revoked', alreadyConcluded: true });
    assert.equal(sys.simulator.stateCalls(installation.id).length, 2, 'the install approval and one acknowledgement');
  });
});
