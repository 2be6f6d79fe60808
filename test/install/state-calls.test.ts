import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { createLogger } from '../../src/logging/logger';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { StateCallInput } from '../../workflows/activity-types';
import { useSystem, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';

/** The state call activity against the simulator: a call Talkdesk answers 409 reads the state and follows the table. */
describe('setInstallationState activity: only what Talkdesk shows open is concluded (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  const activities = () =>
    createActivities({
      store: sys.store,
      talkdesk: new TalkdeskClient({ allowedHosts: [`127.0.0.1:${sys.simulator.port}`], timeoutMs: 5_000 }),
      logger: createLogger({ level: 'silent' }),
    });

  async function activeInstallation() {
    const { installation, event } = sys.simulator.createInstallation();
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, installation.id, 'active');
    const input = (concludes: StateCallInput['concludes']): StateCallInput => ({
      installationId: installation.id,
      appId: sys.simulator.appId,
      clientId: event.data.client_id,
      rootUrl: event._links.root.href,
      state: 'approve',
      concludes,
    });
    return { id: installation.id, input };
  }

  it('a first attempt answered 409 for what is already concluded returns concluded; nothing else is sent', async () => {
    const { id, input } = await activeInstallation();
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, input('install'));
    assert.deepEqual(res, { state: 'completed', alreadyConcluded: true });
    assert.deepEqual(
      sys.simulator.stateCalls(id).map((c) => c.status),
      [200, 409],
    );
  });

  it('an update approval when Talkdesk shows the install timed out sends nothing and says what Talkdesk shows', async () => {
    const { id, input } = await activeInstallation();
    sys.simulator.setInstallationState(id, 'timeout', 'customer took too long');
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, { ...input('update'), checkFirst: true });
    assert.deepEqual(res, { state: 'timeout', notSent: true, reason: 'customer took too long' });
    assert.equal(sys.simulator.stateCalls(id).length, 1, 'only the install approval');
  });

  it('an uninstall acknowledgement is not sent for an install still installing', async () => {
    const { id, input } = await activeInstallation();
    sys.simulator.setInstallationState(id, 'installing');
    const res = await new MockActivityEnvironment().run(activities().setInstallationState, { ...input('uninstall'), checkFirst: true });
    assert.equal((res as { notSent?: boolean }).notSent, true);
    assert.equal(sys.simulator.getInstallation(id)?.state, 'installing');
    assert.equal(sys.simulator.stateCalls(id).length, 1);
  });
});
