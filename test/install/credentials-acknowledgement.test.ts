import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { TalkdeskHttpError } from '../../src/talkdesk/errors';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { captureLogger } from '../support/logs';

/**
 * acknowledgeCredentials against the simulator, which answers 409 once a client id is
 * acknowledged (as Talkdesk does): an acknowledgement sent again after its answer was lost
 * meets its own earlier success, and must not fail the rotation (which would destroy the new set).
 */
describe('acknowledgeCredentials activity: a 409 after an attempt that may have landed is the acknowledgement (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** Activities whose Talkdesk client gives up after one second, and the log lines they write. */
  function quickActivities() {
    const { logger, lines } = captureLogger('acknowledge');
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 1_000 });
    return { acts: createActivities({ store: h.store, talkdesk, logger }), lines };
  }

  /** An installed installation with a rotation imported (not switched to): the input of its acknowledgement. */
  async function rotation() {
    const { installation, event } = h.simulator.createInstallation();
    await h.storeEvent(event);
    await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });
    const rotated = h.simulator.rotateCredentials(installation.id);
    await h.storeEvent(rotated);
    const creds = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: rotated.id, activate: false });
    return { installationId: installation.id, appId: h.simulator.appId, clientId: creds.clientId, rootUrl: event._links.root.href };
  }

  /** The first attempt: Talkdesk takes it but answers after the client gave up. */
  async function landedWithoutAnswer(acts: ReturnType<typeof createActivities>, ref: Awaited<ReturnType<typeof rotation>>) {
    h.simulator.failNext('credentialsState', 1, { delayMs: 2_000 });
    await assert.rejects(new MockActivityEnvironment().run(acts.acknowledgeCredentials, ref), /could not be reached .*ETIMEDOUT|TIMEOUT/i);
    await h.simulator.waitForCall((c) => c.route === 'credentialsState' && c.clientId === ref.clientId, 10_000);
    assert.ok(h.simulator.getClient(ref.clientId)?.acknowledgedAt, 'the first attempt landed at Talkdesk');
  }

  const statuses = (installationId: string) => h.simulator.credentialsStateCalls(installationId).map((c) => c.status);

  it('a server retry of the activity (attempt 2) answered 409 counts as acknowledged, logged without a secret', async () => {
    const { acts, lines } = quickActivities();
    const ref = await rotation();
    await landedWithoutAnswer(acts, ref);
    await new MockActivityEnvironment({ attempt: 2 }).run(acts.acknowledgeCredentials, ref);
    assert.deepEqual(statuses(ref.installationId), [202, 409]);
    assert.ok(
      lines.some((l) => l.includes('already acknowledged') && l.includes(ref.clientId)),
      lines.join('\n'),
    );
    const secrets = h.simulator.issuedSecrets();
    assert.deepEqual(
      lines.filter((l) => secrets.some((s) => l.includes(s))),
      [],
      'no secret in the logs',
    );
  });

  it('a workflow retry (a new activity, attempt 1) marked resent answered 409 counts as acknowledged', async () => {
    const { acts } = quickActivities();
    const ref = await rotation();
    await landedWithoutAnswer(acts, ref);
    await new MockActivityEnvironment().run(acts.acknowledgeCredentials, { ...ref, resent: true });
    assert.deepEqual(statuses(ref.installationId), [202, 409]);
  });

  it('a first attempt answered 409 stays a conflict: nothing of ours was sent before', async () => {
    const { acts } = quickActivities();
    const ref = await rotation();
    await new MockActivityEnvironment().run(acts.acknowledgeCredentials, ref);
    await assert.rejects(
      new MockActivityEnvironment().run(acts.acknowledgeCredentials, ref),
      (err: unknown) => err instanceof TalkdeskHttpError && err.kind === 'conflict',
    );
    assert.deepEqual(statuses(ref.installationId), [202, 409]);
  });
});
