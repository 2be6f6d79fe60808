import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { eventually } from '../support/waits';
import { activeInstallation as activeOne } from './active-installation';
import { ActivityStubs, clientIdFor, deferred, phases, resumedFromRecord, unavailable, useInstallationUnderTest } from './harness';

/** Credential rotation and the long life of an installation (continue-as-new). */
describe('installation workflow: rotation and continue-as-new', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  const activeInstallation = (stubs?: ActivityStubs, options = {}) => activeOne(start, stubs, options);

  /**
   * A rotation queued behind an update that keeps failing, then an uninstall: it interrupts the update, and
   * the rotation, next in the queue, meets the uninstall queued behind it.
   */
  /** `compromised` undefined: the event as Talkdesk documents it, without the flag. */
  const rotationQueuedBehindUninstall = async (compromised: boolean | undefined) => {
    const stubs = new ActivityStubs().on('applyUpdate', async () => Promise.reject(unavailable()));
    const { t, oldClient } = await activeInstallation(stubs);
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    await t.until('the update to be retrying', (s) => s.phase === 'updating' && s.attempts > 1);
    const rotation = t.event('app.credentials_rotated', { facts: compromised === undefined ? {} : { compromised } });
    await t.send(rotation);
    await t.until('the rotation to be queued', (s) => s.pendingEvents.some((p) => p.endsWith(rotation.eventId)));
    await t.send(t.event('app.uninstalled'));
    return { t, oldClient, rotation, done: await t.result() };
  };

  it('a routine rotation keeps the old credentials for seven days, then destroys them', async () => {
    const { t, oldClient } = await activeInstallation();
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: false } });
    await t.send(rotation);
    const newClient = clientIdFor(rotation.eventId);
    const v = await t.settled('active', (s) => s.activeClientId === newClient);
    assert.deepEqual(
      v.retiringCredentials.map((r) => r.clientId),
      [oldClient],
    );
    assert.deepEqual(t.stubs.of('importCredentials').at(-1), {
      installationId: t.installationId,
      eventId: rotation.eventId,
      activate: false,
    });
    assert.deepEqual(t.stubs.names().slice(-5), [
      'importCredentials',
      'obtainToken',
      'acknowledgeCredentials',
      'switchCredentials',
      'recordInstallation',
    ]);
    const sw = t.stubs.of('switchCredentials')[0];
    assert.equal(sw?.clientId, newClient);
    assert.equal(sw?.previousClientId, oldClient);
    assert.equal(sw?.destroyPreviousNow, false);
    const retireIn = Date.parse(String(sw?.retireAt)) - (await env().currentTimeMs());
    assert.ok(retireIn > 6.9 * 86_400_000 && retireIn <= 7 * 86_400_000, `retires in seven days (${retireIn} ms)`);

    await env().sleep('6 days');
    assert.deepEqual(t.stubs.of('destroyCredentials'), [], 'still usable after six days');
    await env().sleep('2 days');
    await eventually('the old credentials to be destroyed', async () => (t.stubs.of('destroyCredentials').length > 0 ? true : undefined));
    assert.deepEqual(t.stubs.of('destroyCredentials'), [{ installationId: t.installationId, clientId: oldClient }]);
    const after = await t.until('the retirement to leave the state', (s) => s.retiringCredentials.length === 0);
    assert.equal(after.activeClientId, newClient);
  });

  it('a compromised rotation destroys the old credentials at once', async () => {
    const { t, oldClient } = await activeInstallation();
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: true } });
    await t.send(rotation);
    const v = await t.settled('active', (s) => s.activeClientId === clientIdFor(rotation.eventId));
    assert.deepEqual(v.retiringCredentials, []);
    const sw = t.stubs.of('switchCredentials')[0];
    assert.equal(sw?.previousClientId, oldClient);
    assert.equal(sw?.destroyPreviousNow, true);
    assert.ok(Date.parse(String(sw?.retireAt)) <= (await env().currentTimeMs()), 'retired now');
    assert.equal(v.history.at(-1)?.eventId, rotation.eventId);
  });

  it('an acknowledgement retried after its answer was lost goes as resent, so the 409 it meets completes the rotation', async () => {
    let acks = 0;
    const stubs = new ActivityStubs().on('acknowledgeCredentials', async (i) => {
      acks += 1;
      if (acks === 1) throw unavailable(); // landed at Talkdesk; the answer was lost
      // The activity counts a 409 as acknowledged only when told an earlier attempt may have landed.
      if (!i.resent) throw ApplicationFailure.nonRetryable('Talkdesk answered 409', 'TalkdeskConflict');
    });
    const { t } = await activeInstallation(stubs);
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: true } });
    await t.send(rotation);
    const v = await t.settled('active', (s) => s.activeClientId === clientIdFor(rotation.eventId));
    assert.equal(v.history.at(-1)?.result, 'rotated');
    assert.deepEqual(
      t.stubs.of('acknowledgeCredentials').map((c) => c.resent),
      [false, true],
    );
  });

  it('a rotation whose set an earlier run imported (resumed by reconciliation) sends its first acknowledgement as resent: a 409 completes it', async () => {
    const stubs = new ActivityStubs();
    stubs.on('importCredentials', async (i) => ({
      clientId: clientIdFor(String(i.eventId)),
      keyId: 'k1',
      keyAlgorithm: 'RS256',
      // The install imports its copy; the rotation finds its set stored by the lost run.
      ...(stubs.of('importCredentials').length > 1 ? { alreadyImported: true } : {}),
    }));
    stubs.on('acknowledgeCredentials', async (i) => {
      // The lost run's acknowledgement landed: Talkdesk answers 409, acknowledged only when it may have been sent.
      if (!i.resent) throw ApplicationFailure.nonRetryable('Talkdesk answered 409', 'TalkdeskConflict');
    });
    const { t } = await activeInstallation(stubs);
    const rotation = t.event('app.credentials_rotated');
    await t.send(rotation);
    const v = await t.settled('active', (s) => s.activeClientId === clientIdFor(rotation.eventId));
    assert.equal(v.history.at(-1)?.result, 'rotated');
    assert.deepEqual(
      t.stubs.of('acknowledgeCredentials').map((c) => c.resent),
      [true],
    );
  });

  it('an uninstall interrupts a rotation retrying for days: the rotation is dropped, the uninstall acknowledged at once', async () => {
    const stubs = new ActivityStubs().on('acknowledgeCredentials', async () => {
      throw unavailable();
    });
    const { t, oldClient } = await activeInstallation(stubs);
    // Routine, as the event says (without the flag it may be a compromised one, and its set is adopted).
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: false } });
    await t.send(rotation);
    await t.until('the rotation to be retrying', (s) => /acknowledge the rotation/.test(s.lastError ?? '') && s.attempts > 1);
    await env().sleep('2 days');
    const uninstall = t.event('app.uninstalled', { atSeconds: 2 * 86_400 });
    await t.send(uninstall);
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(phases(done), ['installing', 'active', 'uninstalling']);
    assert.deepEqual(
      [done.history[1]?.eventId, done.history[1]?.result, done.history[1]?.detail],
      [rotation.eventId, 'interrupted', 'uninstall'],
    );
    assert.match(done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '', /interrupted/);
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
    const ack = t.stubs.of('setInstallationState').at(-1);
    assert.equal(ack?.clientId, oldClient, 'acknowledged with the credentials in use');
    const took = Date.parse(done.history.at(-1)?.endedAt ?? '') - Date.parse(uninstall.createdAt);
    assert.ok(took < 3_600_000, `uninstalled within the hour, not after the rotation's seven days (${took} ms)`);
  });

  it("an uninstall interrupting a compromised rotation is acknowledged with the rotation's credentials (the old set is revoked)", async () => {
    const stubs = new ActivityStubs().on('acknowledgeCredentials', async () => {
      throw unavailable();
    });
    const { t, oldClient } = await activeInstallation(stubs);
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: true } });
    const newClient = clientIdFor(rotation.eventId);
    await t.send(rotation);
    await t.until('the rotation to be retrying', (s) => /acknowledge the rotation/.test(s.lastError ?? '') && s.attempts > 1);
    await t.send(t.event('app.uninstalled'));
    const done = await t.result();
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, newClient, 'acknowledged with the new set');
    assert.notEqual(newClient, oldClient);
    assert.deepEqual(t.stubs.of('importCredentials').at(-1), {
      installationId: t.installationId,
      eventId: rotation.eventId,
      activate: true,
    });
    assert.deepEqual(t.stubs.of('switchCredentials'), [], 'never switched as a rotation: never acknowledged');
    assert.ok(
      !t.stubs.of('destroyCredentials').some((d) => d.clientId === newClient),
      'the new set is not destroyed before the uninstall used it',
    );
    const entry = done.history.find((h) => h.eventId === rotation.eventId);
    assert.deepEqual([entry?.result, entry?.detail], ['interrupted', 'uninstall']);
    assert.match(entry?.outcome ?? '', /acknowledge the uninstall/);
    assert.match(done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '', /acknowledge the uninstall/);
  });

  it("an uninstall queued behind a compromised rotation is acknowledged with the rotation's credentials", async () => {
    const { t, oldClient, rotation, done } = await rotationQueuedBehindUninstall(true);
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
    const newClient = clientIdFor(rotation.eventId);
    assert.notEqual(newClient, oldClient);
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, newClient);
    assert.deepEqual(t.stubs.of('importCredentials').at(-1), {
      installationId: t.installationId,
      eventId: rotation.eventId,
      activate: true,
    });
    assert.deepEqual(t.stubs.of('acknowledgeCredentials'), []);
    assert.match(
      done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '',
      /superseded by a queued uninstall; its credentials acknowledge/,
    );
  });

  it("an install, a compromised rotation and an uninstall all queued: the uninstall is acknowledged with the rotation's set", async () => {
    const t = await start();
    const install = t.event('app.installed', { atSeconds: 1 });
    const rotation = t.event('app.credentials_rotated', { atSeconds: 2, facts: { compromised: true } });
    await t.send(t.event('app.uninstalled', { atSeconds: 3 }), rotation);
    await t.until(
      'the events to wait for their install',
      (v) => /app\.installed/.test(v.currentStep ?? '') && v.pendingEvents.length === 2,
    );
    await t.send(install);
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.equal(t.stubs.of('provisionAccount').length, 0, 'the install was superseded');
    assert.deepEqual(
      t.stubs.of('importCredentials').map((i) => [i.eventId, i.activate]),
      [
        [install.eventId, true],
        [rotation.eventId, true],
      ],
    );
    assert.deepEqual(t.stubs.stateCalls(), ['approve:uninstall']);
    assert.equal(t.stubs.of('setInstallationState')[0]?.clientId, clientIdFor(rotation.eventId));
  });

  it('a routine rotation queued behind an uninstall within its grace is dropped: the old set stays valid', async () => {
    const { t, oldClient, rotation, done } = await rotationQueuedBehindUninstall(false);
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, oldClient);
    assert.equal(t.stubs.of('importCredentials').length, 1, "the install's import only");
    assert.equal(done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason, 'rotation superseded by a queued uninstall');
  });

  it('a rotation without the compromised flag (none is documented) queued behind an uninstall gives it its set within the grace too (patches-decided-at-start-13)', async () => {
    const { t, oldClient, rotation, done } = await rotationQueuedBehindUninstall(undefined);
    const newClient = clientIdFor(rotation.eventId);
    assert.notEqual(newClient, oldClient);
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, newClient, 'the set Talkdesk keeps, whichever rotation it was');
    assert.deepEqual(t.stubs.of('acknowledgeCredentials'), [], 'never acknowledged as a rotation');
    assert.match(done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '', /superseded by a queued uninstall/);
  });

  it('a rotation older than one adopted for the uninstall is not adopted over it (patches-decided-at-start-10)', async () => {
    const gate = deferred();
    let newerId = '';
    const stubs = new ActivityStubs()
      .on('applyUpdate', async () => Promise.reject(unavailable()))
      .on('importCredentials', async (i) => {
        if (i.eventId === newerId) await gate.promise; // the adoption's import, slow (the store retried)
        return { clientId: clientIdFor(String(i.eventId)), keyId: 'key-1', keyAlgorithm: 'ES256' };
      });
    const { t } = await activeInstallation(stubs);
    await t.send(t.event('app.updated', { atSeconds: 5, facts: { users: { adding: ['u1'], removing: [] } } }));
    await t.until('the update to be retrying', (s) => s.phase === 'updating' && s.attempts > 1);
    const newer = t.event('app.credentials_rotated', { atSeconds: 20, facts: { compromised: true } });
    newerId = newer.eventId;
    await t.send(newer, t.event('app.uninstalled', { atSeconds: 30 }));
    await eventually(
      'the newer rotation being adopted',
      async () => t.stubs.of('importCredentials').some((i) => i.eventId === newerId) || undefined,
    );
    const older = t.event('app.credentials_rotated', { atSeconds: 10, facts: { compromised: true } });
    await t.send(older);
    // Queued while the adoption's import still runs (past its local bound it is retried on the server), ahead of the uninstall.
    await t.until('the older rotation queued', (s) => s.pendingEvents.some((p) => p.endsWith(older.eventId)));
    gate.resolve();
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, clientIdFor(newer.eventId), 'the newer set, the one Talkdesk keeps');
    assert.ok(!t.stubs.of('importCredentials').some((i) => i.eventId === older.eventId), 'the older set never imported over it');
  });

  it("a routine rotation past Talkdesk's grace queued behind an uninstall gives it its credentials: the old set no longer works (patches-decided-at-start-10)", async () => {
    const stubs = new ActivityStubs().on('applyUpdate', async () => Promise.reject(unavailable()));
    const { t, oldClient } = await activeInstallation(stubs);
    const DAY = 86_400;
    // A rotation delivered three days late, behind an update that keeps failing (it holds the queue until its own
    // seven days end, at day 10); the uninstall comes at day 8, past the rotation's seven days' grace.
    await env().sleep('3 days');
    await t.send(t.event('app.updated', { atSeconds: 3 * DAY, facts: { users: { adding: ['u1'], removing: [] } } }));
    await t.until('the update to be retrying', (s) => s.phase === 'updating' && s.attempts > 1);
    const rotation = t.event('app.credentials_rotated', { atSeconds: 10, facts: { compromised: false } });
    await t.send(rotation);
    await env().sleep('5 days');
    await t.send(t.event('app.uninstalled', { atSeconds: 8 * DAY }));
    const done = await t.result();
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
    const newClient = clientIdFor(rotation.eventId);
    assert.notEqual(newClient, oldClient);
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, newClient, 'before, the old set: refused, deprovisioned here only');
    assert.deepEqual(t.stubs.of('acknowledgeCredentials'), []);
    assert.match(
      done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '',
      /past Talkdesk's grace: the old set no longer works/,
    );
  });

  it('a run resumed from the record (its workflow lost) still retires the old set when its grace ends', async () => {
    const retireAt = new Date((await env().currentTimeMs()) + 3_600_000).toISOString();
    const t = await start(resumedFromRecord({ phase: 'active', retiring: [{ clientId: 'client-old', retireAt }] }));
    const v = await t.until('the resumed run to show its retiring set', (s) => s.retiringCredentials.length === 1);
    assert.deepEqual(v.retiringCredentials, [{ clientId: 'client-old', retireAt }]);
    await env().sleep('2 hours');
    assert.deepEqual(t.stubs.of('destroyCredentials'), [{ installationId: t.installationId, clientId: 'client-old' }]);
    assert.deepEqual((await t.state()).retiringCredentials, []);
  });

  it("a routine rotation applied days after it was sent retires the old set when Talkdesk's grace ends, counted from the event", async () => {
    const { t, oldClient } = await activeInstallation();
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: false } });
    await env().sleep('2 days'); // delivered late (the queue, Talkdesk's retries)
    await t.send(rotation);
    await t.settled('active', (s) => s.activeClientId === clientIdFor(rotation.eventId));
    const sw = t.stubs.of('switchCredentials')[0];
    assert.equal(sw?.previousClientId, oldClient);
    assert.equal(Date.parse(String(sw?.retireAt)), Date.parse(rotation.createdAt) + 7 * 86_400_000);
  });

  it('continues as new after maxEventsPerRun events, carrying the whole state', async () => {
    const { t, oldClient } = await activeInstallation(undefined, { maxEventsPerRun: 2 });
    const { runId: firstRun } = await t.handle.describe();
    const install = t.state().then((v) => v.history[0]?.eventId ?? '');
    await t.send(
      t.event('app.trial_started', { facts: { expires_at: '2027-01-01T00:00:00Z' } }),
      t.event('app.trial_ended', { facts: { ended_reason: 'trial_expired', ended_by: 'system' } }),
    );
    await eventually('a new run', async () => ((await t.handle.describe()).runId !== firstRun ? true : undefined));
    const old = await env().client.workflow.getHandle(t.handle.workflowId, firstRun).describe();
    assert.equal(old.status.name, 'CONTINUED_AS_NEW');

    const carried = await t.settled('active', (s) => s.appliedEvents === 3);
    assert.equal(carried.activeClientId, oldClient);
    assert.equal(carried.trial?.endedReason, 'trial_expired');
    assert.equal(carried.history[0]?.phase, 'installing');
    assert.equal(t.stubs.of('loadInstallation').length, 1, 'the new run does not load from the store: the state is carried');

    // The new run still knows the ids it saw, and keeps working.
    const installId = await install;
    await t.send(t.event('app.installed', { id: installId }));
    await t.until('the repeated install to be ignored', (s) => s.ignoredEvents.some((e) => e.eventId === installId));
    await t.send(t.event('app.uninstalled'));
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.equal(done.appliedEvents, 4);
    assert.equal(t.stubs.of('importCredentials').length, 1);
  });
});
