import assert from 'node:assert/strict';
import { rejectUpdate } from '../../workflows/definitions';
import { ActivityStubs, blockingUntilCancelled, useInstallationUnderTest } from './harness';

/**
 * An operator's reject of a late update (older than an update already applied): its operation was concluded at
 * Talkdesk by the newer update's approval, so what Talkdesk shows open now is a newer operation, which a rejection
 * would conclude in its place. The rejection goes with `late`: read, never sent (docs/lifecycle.md, "State calls").
 */
describe('installation workflow: an operator reject of a late update', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  it('sends no rejection for what Talkdesk has open (a newer operation); the late update is reverted', async () => {
    const hold = blockingUntilCancelled();
    let applies = 0;
    const stubs = new ActivityStubs()
      .on('applyUpdate', async (i) => ((applies += 1) === 2 ? hold.stub(i) : { usersAdded: [], usersDeactivated: [] }))
      .on('setInstallationState', async (i) => {
        if (i.state === 'approve') return { state: 'completed' };
        // Talkdesk has a newer update open: a rejection sent now would conclude it; one marked late is read and kept back.
        return i.late ? { state: 'pending', notSent: true } : { state: 'rejected' };
      });
    const t = await start(stubs);
    await t.send(t.event('app.installed', { atSeconds: 1 }));
    await t.settled('active');
    await t.send(t.event('app.updated', { atSeconds: 20 }));
    await t.settled('active', (v) => v.appliedEvents === 2);
    await t.send(t.event('app.updated', { atSeconds: 10 })); // late: older than the one applied
    await hold.started;
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'not this one' }] });
    const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'rejected');
    const reject = t.stubs.of('setInstallationState').find((c) => c.state === 'reject');
    assert.deepEqual([reject?.concludes, reject?.late], ['update', true], 'the rejection is marked late: never sent blind');
    assert.match(
      v.history.at(-1)?.outcome ?? '',
      /update rejected by an operator: not this one \(rejection not sent: .*Talkdesk shows pending/,
    );
    assert.equal(t.stubs.of('revertUpdate').length, 1, 'the late update, stopped while applying, reverted');
    assert.ok(v.activeClientId, 'the installation stays');
  });
});
