import assert from 'node:assert/strict';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { StateCallInput } from '../../workflows/activity-types';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { eventually, holdsFor } from '../support/waits';

/**
 * setInstallationState with `checkFirst` reads Talkdesk (a token request, then the installation)
 * before its POST, each up to the client's timeout: together longer than the heartbeat timeout.
 * It heartbeats from its start, and an attempt cancelled meanwhile (by the workflow, or by the
 * server timing it out) never sends the POST: the workflow may have moved on without it.
 */
describe('setInstallationState activity: heartbeats before its POST and sends nothing once cancelled (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** An install Talkdesk shows installing, its credentials imported: a checked approval of it. */
  async function installing(): Promise<StateCallInput> {
    const { installation, event } = h.simulator.createInstallation();
    await h.storeEvent(event);
    const creds = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });
    const ref = { installationId: installation.id, appId: h.simulator.appId, clientId: creds.clientId, rootUrl: event._links.root.href };
    return { ...ref, state: 'approve', concludes: 'install', checkFirst: true };
  }

  /** The read of the installation arrived at Talkdesk (and is answered late, by the fault set). */
  const readArrived = (installationId: string) =>
    eventually('the installation read to arrive', async () =>
      h.simulator.calls.some((c) => c.route === 'installation' && c.installationId === installationId) ? true : undefined,
    );

  it('heartbeats while the read before the POST is slow', async () => {
    const input = await installing();
    h.simulator.failNext('installation', 1, { delayMs: 3_500 });
    const env = new MockActivityEnvironment();
    let beats = 0;
    let beatsBeforePost: number | undefined;
    env.on('heartbeat', () => (beats += 1));
    const stop = h.simulator.onCall((c) => {
      if (c.route === 'installationState' && c.installationId === input.installationId) beatsBeforePost ??= beats;
    });
    try {
      assert.deepEqual(await env.run(h.acts.setInstallationState, input), { state: 'completed' });
    } finally {
      stop();
    }
    assert.ok((beatsBeforePost ?? 0) >= 2, `heartbeats before the POST was answered: ${beatsBeforePost}`);
  });

  it('an attempt cancelled while it reads Talkdesk does not send the POST', async () => {
    const input = await installing();
    h.simulator.failNext('installation', 1, { delayMs: 1_500 });
    const env = new MockActivityEnvironment();
    const attempt = env.run(h.acts.setInstallationState, input);
    await readArrived(input.installationId);
    env.cancel();
    await assert.rejects(attempt, (err: unknown) => err instanceof CancelledFailure);
    // The read's late answer went out: from then on a POST would follow at once, were it still to be sent.
    await eventually(
      'the late read answered',
      async () =>
        h.simulator.calls.some((c) => c.route === 'installation' && c.installationId === input.installationId && c.status !== 0) ||
        undefined,
    );
    await holdsFor('no state call sent', () => h.simulator.stateCalls(input.installationId).length === 0, 1_000);
    assert.equal(h.simulator.getInstallation(input.installationId)?.state, 'installing');
  });
});
