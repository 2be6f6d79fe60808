import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, finalView, waitForPhase } from '../support/waits';

/**
 * A Talkdesk whose open update and uninstall show the launch guide's prose names (`updating`, `uninstalled`)
 * instead of `pending`, the only open state the API reference lists: the service concludes each all the same.
 */
describe("Talkdesk showing an open update or uninstall by the guide's names (dev server, FerretDB, simulator)", function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { openStateNames: 'prose' });

  const deliver = async (event: unknown) => {
    assert.equal(await sys.simulator.deliver(event as never, { callbackUrl: sys.web.callbackUrl }), 200);
  };

  it('an update approved after a retry that read `updating`, and an uninstall acknowledged after reading `uninstalled`', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');
    // The update's first approval fails: its retry reads the state first and finds `updating`.
    sys.simulator.failNext('installationState', 1, { status: 503 });
    await deliver(sys.simulator.updateUsers(installation.id, { add: 1 }));
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'updating');
    await eventually('the update approved', async () => {
      const v = await waitForPhase(sys.client, installation.id, 'active');
      return v.history.at(-1)?.phase === 'updating' && v.history.at(-1)?.result === 'approved' ? v : undefined;
    });
    // The uninstall reads first on its first attempt too.
    await deliver(sys.simulator.uninstall(installation.id));
    const done = await finalView(sys.client, installation.id);
    assert.deepEqual(
      done.history.map((h) => [h.phase, h.result]),
      [
        ['installing', 'approved'],
        ['updating', 'approved'],
        ['uninstalling', 'acknowledged'],
      ],
    );
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'revoked', 'Talkdesk concluded the uninstall');
    const calls = sys.simulator.stateCalls(installation.id);
    assert.deepEqual(
      calls.map((c) => c.status),
      [200, 503, 200, 200],
    );
    assert.deepEqual(
      calls.filter((c) => c.status === 200).map((c) => c.concluded),
      ['install', 'update', 'uninstall'],
    );
    // Each concluding call followed a read of Talkdesk's state, which showed the guide's name (asserted above for the update).
    const readsBetween = (from: Date, to: Date) =>
      sys.simulator.calls.filter((c) => c.route === 'installation' && c.installationId === installation.id && c.at > from && c.at < to)
        .length;
    assert.ok(readsBetween(calls[1]!.at, calls[2]!.at) >= 1, "the update's retry read `updating` first");
    assert.ok(readsBetween(calls[2]!.at, calls[3]!.at) >= 1, 'the uninstall read `uninstalled` first');
  });
});
