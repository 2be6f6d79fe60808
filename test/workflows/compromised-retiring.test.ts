import assert from 'node:assert/strict';
import { PATCHES_DECIDED_AT_START_1_TO_18 } from '../../workflows/installation/patches';
import { COMPROMISED_ROTATION_DESTROYS_RETIRING_SETS } from '../../workflows/installation/rotation-late';
import { reconcileSignal } from '../../workflows/definitions';
import {
  ActivityStubs,
  clientIdFor,
  deferred,
  refused,
  unavailable,
  useInstallationUnderTest,
  type InstallationUnderTest,
} from './harness';

/**
 * A compromised rotation applied in order destroys the retiring sets issued before it, as a late one does (patch
 * compromised-rotation-destroys-retiring-sets, eighteenth generation): Talkdesk revoked every set in force when it
 * rotated. Before, only the set it replaced went; one an earlier routine rotation had retired kept its ciphertext.
 */
describe('installation workflow: a compromised rotation and the sets already retiring', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  /** Installed (1 s), then routine R1 (20 s) applied: the install's set retires when Talkdesk's grace ends. */
  const routineApplied = async (stubs?: ActivityStubs) => {
    const t = await start(stubs);
    const install = t.event('app.installed', { atSeconds: 1 });
    await t.send(install);
    await t.settled('active');
    const routine = t.event('app.credentials_rotated', { atSeconds: 20, facts: { compromised: false } });
    await t.send(routine);
    const v = await t.settled('active', (s) => s.activeClientId === clientIdFor(routine.eventId));
    assert.deepEqual(
      v.retiringCredentials.map((r) => r.clientId),
      [clientIdFor(install.eventId)],
    );
    return { t, install, routine };
  };
  const ends = async (t: InstallationUnderTest) => {
    await t.send(t.event('app.uninstalled', { atSeconds: 40 }));
    return t.result();
  };

  it('destroys the retiring set issued before it with the one it replaces, at once; decided at start', async () => {
    const { t, install, routine } = await routineApplied();
    const compromised = t.event('app.credentials_rotated', { atSeconds: 30, facts: { compromised: true } });
    await t.send(compromised);
    const v = await t.settled('active', (s) => s.activeClientId === clientIdFor(compromised.eventId));
    assert.deepEqual(t.stubs.distinct('destroyRevokedCredentials'), [
      { installationId: t.installationId, clientIds: [clientIdFor(install.eventId)], issuedBefore: compromised.createdAt },
    ]);
    assert.deepEqual(v.retiringCredentials, [], 'no retirement left to wait for');
    const switched = t.stubs.of('switchCredentials').at(-1);
    assert.deepEqual([switched?.previousClientId, switched?.destroyPreviousNow], [clientIdFor(routine.eventId), true]);
    const markers = await t.patches();
    assert.ok(
      markers.includes(PATCHES_DECIDED_AT_START_1_TO_18) && !markers.includes(COMPROMISED_ROTATION_DESTROYS_RETIRING_SETS),
      'decided at start',
    );
    assert.equal((await ends(t)).phase, 'uninstalled');
  });

  it('also when its acknowledgement failed for good and the proven set is switched to all the same', async () => {
    const { t, install } = await routineApplied();
    const compromised = t.event('app.credentials_rotated', { atSeconds: 30, facts: { compromised: true } });
    t.stubs.on('acknowledgeCredentials', async () => {
      throw refused();
    });
    await t.send(compromised);
    const v = await t.settled('active', (s) => s.history.some((h) => h.eventId === compromised.eventId && h.endedAt));
    assert.equal(v.activeClientId, clientIdFor(compromised.eventId), 'the proven set used all the same');
    assert.deepEqual(
      t.stubs.distinct('destroyRevokedCredentials').map((d) => d.clientIds),
      [[clientIdFor(install.eventId)]],
    );
    assert.deepEqual(v.retiringCredentials, []);
    await ends(t);
  });

  it('the destroy backing off when reconciliation signals: the rotation, switched, stays rotated (the destroy is not in its phase)', async () => {
    const { t, install } = await routineApplied();
    const failedOnce = deferred();
    let failures = 0;
    t.stubs.on('destroyRevokedCredentials', async (i) => {
      if (failures++ === 0) {
        failedOnce.resolve();
        throw unavailable();
      }
      return { clientIds: i.clientIds };
    });
    const compromised = t.event('app.credentials_rotated', { atSeconds: 30, facts: { compromised: true } });
    await t.send(compromised);
    await failedOnce.promise;
    await t.handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked', reason: 'test' });
    const v = await t.result();
    const entry = v.history.find((h) => h.eventId === compromised.eventId);
    assert.equal(entry?.result, 'rotated', `switched and acknowledged: ${entry?.outcome}`);
    assert.ok(t.stubs.of('destroyRevokedCredentials').some((d) => (d.clientIds as string[]).includes(clientIdFor(install.eventId))));
    assert.equal(v.phase, 'uninstalled', 'the deprovision ran after it');
  });

  it('a routine rotation leaves the retiring sets to their grace (control)', async () => {
    const { t, routine } = await routineApplied();
    const second = t.event('app.credentials_rotated', { atSeconds: 30, facts: { compromised: false } });
    await t.send(second);
    const v = await t.settled('active', (s) => s.activeClientId === clientIdFor(second.eventId));
    assert.equal(t.stubs.of('destroyRevokedCredentials').length, 0);
    assert.equal(v.retiringCredentials.length, 2, `the install's and R1's (${clientIdFor(routine.eventId)}) retire with their grace`);
    await ends(t);
  });
});
