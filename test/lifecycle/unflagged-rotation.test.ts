import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';

/**
 * Talkdesk documents no `compromised` field in app.credentials_rotated: a compromised rotation arrives as a routine
 * one does, its old set already revoked. An uninstall that supersedes it (its acknowledgement retrying) is answered
 * with the new set (patch unflagged-rotation-adopted-for-uninstall), not with the revoked one.
 */
describe('a compromised rotation sent without the flag, then an uninstall (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));
  const deliver = async (event: object) =>
    assert.equal(await sys.simulator.deliver(event as never, { callbackUrl: sys.web.callbackUrl }), 200);

  it('the uninstall is acknowledged at Talkdesk with the rotation set (the old one revoked), not failed', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');
    // Its acknowledgement keeps failing (Talkdesk down for that call): the rotation retries.
    sys.simulator.failNext('credentialsState', 1_000, { status: 500 });
    const rotation = sys.simulator.rotateCredentials(installation.id, { compromised: true, flagged: false });
    assert.ok(!('compromised' in rotation.data), 'the documented event');
    await deliver(rotation);
    await eventually('the acknowledgement to be retrying', async () => {
      const v = await queryState(sys.client, installation.id);
      return /acknowledge the rotation/.test(v.lastError ?? '') ? v : undefined;
    });
    assert.equal(sys.simulator.getClient(event.data.client_id)?.valid, false, 'Talkdesk revoked the old set');
    await deliver(sys.simulator.uninstall(installation.id));
    const done = await waitForPhase(sys.client, installation.id, 'uninstalled', 60_000);
    assert.deepEqual(
      [done.history.at(-1)?.phase, done.history.at(-1)?.result],
      ['uninstalling', 'acknowledged'],
      done.history.at(-1)?.outcome,
    );
    const acks = sys.simulator.stateCalls(installation.id).filter((c) => c.status === 200);
    assert.equal(acks.at(-1)?.clientId, rotation.data.client_id, "the uninstall's acknowledgement, with the new set");
  });
});
