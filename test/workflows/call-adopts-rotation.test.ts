import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { rejectUpdate } from '../../workflows/definitions';
import { PATCHES_DECIDED_AT_START_1_TO_18 } from '../../workflows/installation/patches';
import { CALL_ADOPTS_QUEUED_ROTATION } from '../../workflows/installation/queued-rotation';
import { ActivityStubs, clientIdFor, deferred, unavailable, useInstallationUnderTest, type InstallationUnderTest } from './harness';

/**
 * A rotation delivered while an install or update runs waits in the queue; when it was compromised, Talkdesk revoked the
 * set the phase's calls go with (`invalid_client` at their token). The call takes the queued rotation's set and is made
 * again (patch talkdesk-call-adopts-queued-rotation, eighteenth generation); the rotation then runs as usual.
 */
describe('installation workflow: a Talkdesk call refused with the set a queued rotation revoked', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();
  const invalidClient = () =>
    ApplicationFailure.nonRetryable('Talkdesk refused the client credentials (401 invalid_client)', 'TalkdeskInvalidClient');

  /**
   * Stubs whose `held` activity waits (its first call) until `release`, and whose calls with the `revoked` set are refused
   * for good: at `refusedAt` (the held activity itself, or the approval).
   */
  function stubsHolding(held: 'applyUpdate' | 'provisionAccount', refusedAt: 'held' | 'approval') {
    const holding = deferred();
    const release = deferred();
    const revoked = { clientId: '' };
    let calls = 0;
    const stubs = new ActivityStubs()
      .on(held, async (i) => {
        if (calls++ === 0) {
          holding.resolve();
          await release.promise;
        }
        if (refusedAt === 'held' && i.clientId === revoked.clientId) throw invalidClient();
        return held === 'applyUpdate' ? { applied: true } : { accountId: 'acct-1', accountName: 'Acme' };
      })
      .on('setInstallationState', async (i) => {
        if (i.clientId === revoked.clientId) throw invalidClient();
        return { state: i.state === 'approve' ? 'completed' : 'rejected' };
      });
    return { stubs, holding, release, revoked };
  }

  /** `rotation` (compromised or not) queued while the held activity waits; then the set it replaced is revoked and the activity let go. */
  async function queuedWhileHeld(
    t: InstallationUnderTest,
    h: ReturnType<typeof stubsHolding>,
    revokedSet: string,
    compromised: boolean,
    id?: string,
  ) {
    await h.holding.promise;
    const named = id ? { id, facts: { compromised, client_id: clientIdFor(id) } } : { facts: { compromised } };
    const rotation = t.event('app.credentials_rotated', { atSeconds: 20, ...named });
    await t.send(rotation);
    await t.until('the rotation queued', (v) => v.pendingEvents.some((p) => p.endsWith(rotation.eventId)));
    h.revoked.clientId = revokedSet;
    h.release.resolve();
    return rotation;
  }

  async function updating(refusedAt: 'held' | 'approval', compromised: boolean) {
    const h = stubsHolding('applyUpdate', refusedAt);
    const t = await start(h.stubs);
    const install = t.event('app.installed', { atSeconds: 1 });
    await t.send(install);
    await t.settled('active');
    const update = t.event('app.updated', { atSeconds: 10, facts: { users: { adding: ['u9'] } } });
    await t.send(update);
    const rotation = await queuedWhileHeld(t, h, clientIdFor(install.eventId), compromised);
    return { t, install, update, rotation };
  }

  for (const refusedAt of ['approval', 'held'] as const)
    it(`an update, refused at its ${refusedAt === 'held' ? 'applying' : 'approval'}: the compromised rotation's set adopted, the update approved with it, the rotation then applied`, async () => {
      const { t, install, update, rotation } = await updating(refusedAt, true);
      const v = await t.settled('active', (s) => s.history.some((h) => h.eventId === rotation.eventId && h.endedAt));
      assert.equal(v.history.find((h) => h.eventId === update.eventId)?.result, 'approved');
      const approvals = t.stubs.of('setInstallationState').filter((c) => c.concludes === 'update');
      const expected =
        refusedAt === 'approval' ? [clientIdFor(install.eventId), clientIdFor(rotation.eventId)] : [clientIdFor(rotation.eventId)];
      assert.deepEqual(
        approvals.map((c) => c.clientId),
        expected,
      );
      // Made again, the approval reads Talkdesk first: its refused attempts may have landed before the set was revoked.
      assert.deepEqual(
        approvals.map((c) => c.checkFirst),
        refusedAt === 'approval' ? [false, true] : [false],
      );
      assert.ok(
        t.stubs.of('importCredentials').some((i) => i.eventId === rotation.eventId && i.activate === true),
        'adopted',
      );
      assert.equal(v.history.find((h) => h.eventId === rotation.eventId)?.result, 'rotated', 'then acknowledged and switched');
      assert.ok(t.stubs.of('acknowledgeCredentials').some((a) => a.clientId === clientIdFor(rotation.eventId)));
      assert.equal(v.activeClientId, clientIdFor(rotation.eventId));
      const markers = await t.patches();
      assert.ok(markers.includes(PATCHES_DECIDED_AT_START_1_TO_18) && !markers.includes(CALL_ADOPTS_QUEUED_ROTATION), 'decided at start');
    });

  it("an install whose provisioning is refused so: approved with the rotation's set, not undone", async () => {
    const h = stubsHolding('provisionAccount', 'held');
    const t = await start(h.stubs);
    const install = t.event('app.installed', { atSeconds: 1 });
    await t.send(install);
    const rotation = await queuedWhileHeld(t, h, clientIdFor(install.eventId), true);
    const v = await t.settled('active', (s) => s.history.some((x) => x.eventId === rotation.eventId && x.endedAt));
    assert.equal(v.history.find((x) => x.eventId === install.eventId)?.result, 'approved');
    assert.deepEqual(
      t.stubs.of('setInstallationState').map((c) => [c.concludes, c.clientId]),
      [['install', clientIdFor(rotation.eventId)]],
    );
  });

  it('two rotations queued (unflagged): the newest adopted; the older one then late, acknowledged but never switched to over it', async () => {
    const h = stubsHolding('applyUpdate', 'approval');
    const t = await start(h.stubs);
    const install = t.event('app.installed', { atSeconds: 1 });
    await t.send(install);
    await t.settled('active');
    await t.send(t.event('app.updated', { atSeconds: 10, facts: { users: { adding: ['u9'] } } }));
    await h.holding.promise;
    const older = t.event('app.credentials_rotated', { atSeconds: 20, facts: {} });
    const newer = t.event('app.credentials_rotated', { atSeconds: 25, facts: {} });
    await t.send(older, newer);
    await t.until('both queued', (v) => [older, newer].every((r) => v.pendingEvents.some((p) => p.endsWith(r.eventId))));
    h.revoked.clientId = clientIdFor(install.eventId);
    h.release.resolve();
    const v = await t.settled('active', (s) => [older, newer].every((r) => s.history.some((x) => x.eventId === r.eventId && x.endedAt)));
    assert.equal(v.activeClientId, clientIdFor(newer.eventId), 'the set Talkdesk keeps');
    assert.deepEqual(
      t.stubs.of('switchCredentials').map((c) => c.clientId),
      [clientIdFor(newer.eventId)],
      'the older never switched to',
    );
    assert.ok(
      t.stubs.of('acknowledgeCredentials').some((a) => a.clientId === clientIdFor(older.eventId)),
      'the older acknowledged',
    );
  });

  it("an operator's reject of an install after its call adopted a rotation's set: the rejection goes with that set", async () => {
    const h = stubsHolding('provisionAccount', 'held');
    const retried = deferred();
    const answer = deferred();
    const t = await start(h.stubs);
    // As Talkdesk sends them, each naming its client id (the install's set is then its own only by that id).
    const install = t.event('app.installed', { id: 'install-1', atSeconds: 1, facts: { client_id: clientIdFor('install-1') } });
    await t.send(install);
    const rotation = await queuedWhileHeld(t, h, clientIdFor(install.eventId), true, 'rotation-1');
    h.stubs.on('provisionAccount', async (i) => {
      if (i.clientId === h.revoked.clientId) throw invalidClient();
      retried.resolve();
      await answer.promise;
      return { accountId: 'acct-1', accountName: 'Acme' };
    });
    await retried.promise;
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'not this customer' }] });
    answer.resolve();
    const v = await t.settled('rejected');
    assert.deepEqual(
      t.stubs.of('setInstallationState').map((c) => [c.state, c.clientId]),
      [['reject', clientIdFor(rotation.eventId)]],
      "sent with the rotation's set (before: not sent, the install's own set destroyed by the adoption)",
    );
    assert.equal(v.phase, 'rejected');
  });

  it("an install cut by continue-as-new after its call adopted a rotation's set: re-entered, it does not import its own destroyed set", async () => {
    const h = stubsHolding('provisionAccount', 'held');
    let failuresLeft = 12;
    const t = await start(h.stubs, { retryInitialMs: 1_000, retryMaxMs: 4_000, maxHistoryEventsPerRun: 80 });
    const install = t.event('app.installed', { id: 'install-2', atSeconds: 1, facts: { client_id: clientIdFor('install-2') } });
    const adopted = { done: false };
    // As the activity does: once the adoption's import destroyed it (its copy deleted by the first import), the install's
    // set cannot be imported again.
    h.stubs.on('importCredentials', async (i) => {
      if (i.eventId === install.eventId && adopted.done) {
        throw ApplicationFailure.nonRetryable('credential set destroyed (test)', 'CredentialsMissing');
      }
      if (i.eventId !== install.eventId) adopted.done = true;
      return { clientId: clientIdFor(String(i.eventId)) };
    });
    await t.send(install);
    const rotation = await queuedWhileHeld(t, h, clientIdFor(install.eventId), true, 'rotation-2');
    // The retried provisioning (with the rotation's set) keeps failing a while: the run continues as new mid-phase.
    const runsOfCall: string[] = [];
    h.stubs.on('provisionAccount', async (i) => {
      runsOfCall.push(Context.current().info.workflowExecution?.runId ?? '');
      if (i.clientId === h.revoked.clientId) throw invalidClient();
      if (failuresLeft-- > 0) throw unavailable();
      return { accountId: 'acct-1', accountName: 'Acme' };
    });
    await t.env.sleep('1 hour');
    const v = await t.settled('active', (s) => s.history.some((x) => x.eventId === rotation.eventId && x.endedAt));
    assert.equal(v.history.find((x) => x.eventId === install.eventId)?.result, 'approved');
    assert.equal(t.stubs.of('importCredentials').filter((i) => i.eventId === install.eventId).length, 1, 'imported once');
    assert.ok(
      new Set(runsOfCall).size >= 2,
      `provisioning attempted in several runs: continued as new mid-phase (${new Set(runsOfCall).size})`,
    );
  });

  it("an install cut by continue-as-new while the adoption's import backs off (the install's set already destroyed): the adoption goes on", async () => {
    const h = stubsHolding('provisionAccount', 'held');
    const t = await start(h.stubs, { retryInitialMs: 1_000, retryMaxMs: 4_000, maxHistoryEventsPerRun: 80 });
    const install = t.event('app.installed', { id: 'install-3', atSeconds: 1, facts: { client_id: clientIdFor('install-3') } });
    const adoption = { attempts: 0 };
    const runsOfCall: string[] = [];
    // The adoption's import destroys the install's set at its first attempt, then fails a while (the store): the run is
    // cut in its backoff. The install's own set can no longer be imported.
    h.stubs.on('importCredentials', async (i) => {
      if (i.eventId === install.eventId) {
        if (adoption.attempts > 0) throw ApplicationFailure.nonRetryable('credential set destroyed (test)', 'CredentialsMissing');
        return { clientId: clientIdFor(install.eventId) };
      }
      runsOfCall.push(Context.current().info.workflowExecution?.runId ?? '');
      if (++adoption.attempts <= 12) throw unavailable();
      return { clientId: clientIdFor(String(i.eventId)) };
    });
    await t.send(install);
    const rotation = await queuedWhileHeld(t, h, clientIdFor(install.eventId), true, 'rotation-3');
    await t.env.sleep('1 hour');
    const v = await t.settled('active', (s) => s.history.some((x) => x.eventId === rotation.eventId && x.endedAt));
    assert.equal(v.history.find((x) => x.eventId === install.eventId)?.result, 'approved');
    assert.ok(new Set(runsOfCall).size >= 2, `the adoption's import attempted in several runs (${new Set(runsOfCall).size})`);
    assert.equal(t.stubs.of('importCredentials').filter((i) => i.eventId === install.eventId).length, 1, 'its own set imported once');
  });

  it("a routine rotation within its grace (the set not revoked by it): nothing adopted, the refusal is the update's", async () => {
    const { t, update, rotation } = await updating('approval', false);
    const v = await t.settled('active', (s) => s.history.some((h) => h.eventId === update.eventId && h.endedAt));
    assert.notEqual(v.history.find((h) => h.eventId === update.eventId)?.result, 'approved');
    assert.ok(!t.stubs.of('importCredentials').some((i) => i.eventId === rotation.eventId && i.activate === true), 'not adopted');
  });
});
