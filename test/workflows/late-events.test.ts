import assert from 'node:assert/strict';
import {
  ActivityStubs,
  type InstallationUnderTest,
  clientIdFor,
  deferred,
  phases,
  refused,
  unavailable,
  useInstallationUnderTest,
} from './harness';
import type { LifecycleEvent } from '../../workflows/definitions';

/** Events older than one already applied (Talkdesk's retries, the dispatcher's backoff): each kind has its rule. */
describe('installation workflow: late events', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  const active = async (stubs?: ActivityStubs) => {
    const t = await start(stubs);
    const install = t.event('app.installed', { atSeconds: 1 });
    await t.send(install);
    await t.settled('active');
    return t;
  };

  /**
   * A run of an installation its store shows uninstalled by an event dated 30 s after the test began.
   * It reads its record only once the `events` made for it are sent: read at once, the run has
   * nothing to do and completes, and a signal after that finds no workflow (the callback would start
   * a new run with signal-with-start; here the events must reach this one).
   */
  const finished = async <E extends LifecycleEvent[]>(events: (t: InstallationUnderTest) => [...E]) => {
    const t0 = await env().currentTimeMs();
    const sent = deferred();
    const t = await start(
      new ActivityStubs().on('loadInstallation', async () => {
        await sent.promise;
        return { phase: 'uninstalled', appId: 'app-1', lastEventAt: new Date(t0 + 30_000).toISOString(), handledEventIds: ['uninstall-1'] };
      }),
    );
    const sentEvents = events(t);
    await t.send(...sentEvents);
    sent.resolve();
    return { t, events: sentEvents };
  };

  /** A rotation applied (dated 20 s), then one dated before it (10 s): resolves once the late one is decided. */
  const rotatedThenLate = async (t: InstallationUnderTest) => {
    const newer = t.event('app.credentials_rotated', { atSeconds: 20 });
    await t.send(newer);
    await t.settled('active', (s) => s.activeClientId === clientIdFor(newer.eventId));
    const late = t.event('app.credentials_rotated', { atSeconds: 10 });
    await t.send(late);
    const v = await t.until('the late rotation decided', (s) => s.history.some((h) => h.eventId === late.eventId && h.endedAt));
    return { newer, late, v };
  };

  it('a rotation older than an applied update is applied (not lost)', async () => {
    const t = await active();
    await t.send(t.event('app.updated', { atSeconds: 20 }));
    await t.settled('active', (v) => v.appliedEvents === 2);
    const rotation = t.event('app.credentials_rotated', { atSeconds: 10, facts: { compromised: true } });
    await t.send(rotation);
    const v = await t.settled('active', (s) => s.activeClientId === clientIdFor(rotation.eventId));
    assert.deepEqual(v.ignoredEvents, []);
    assert.equal(v.appliedEvents, 3);
    assert.equal(t.stubs.of('switchCredentials')[0]?.destroyPreviousNow, true);
  });

  it('a rotation older than an applied rotation is acknowledged, never switched to, and its set destroyed', async () => {
    const t = await active();
    const { newer, late, v } = await rotatedThenLate(t);
    assert.equal(v.activeClientId, clientIdFor(newer.eventId), 'the newer set stays in use');
    assert.equal(t.stubs.of('switchCredentials').length, 1, 'only the newer rotation was switched to');
    assert.deepEqual(
      t.stubs.of('acknowledgeCredentials').map((a) => a.clientId),
      [clientIdFor(newer.eventId), clientIdFor(late.eventId)],
    );
    assert.deepEqual(t.stubs.of('destroyCredentials'), [{ installationId: t.installationId, clientId: clientIdFor(late.eventId) }]);
    const entry = v.history.find((h) => h.eventId === late.eventId);
    assert.equal(entry?.result, 'superseded');
    assert.match(entry?.detail ?? '', /acknowledged at Talkdesk.*never switched to/);
  });

  it('a late rotation Talkdesk no longer expects (409) is recorded as such', async () => {
    let acks = 0;
    const stubs = new ActivityStubs().on('acknowledgeCredentials', async () => {
      if (++acks > 1) throw refused('Talkdesk answered 409: nothing to acknowledge');
    });
    const t = await active(stubs);
    const { newer, late, v } = await rotatedThenLate(t);
    assert.match(v.history.find((h) => h.eventId === late.eventId)?.detail ?? '', /no longer expects it.*409/);
    assert.equal(v.activeClientId, clientIdFor(newer.eventId));
    assert.equal(t.stubs.of('destroyCredentials').length, 1);
  });

  it('a trial event older than an applied one is recorded; the account keeps the newer trial', async () => {
    const t = await active();
    await t.send(t.event('app.trial_started', { atSeconds: 20, facts: { expires_at: '2027-02-01T00:00:00Z' } }));
    await t.settled('active', (v) => v.appliedEvents === 2);
    const late = t.event('app.trial_extended', { atSeconds: 10, facts: { expires_at: '2027-01-01T00:00:00Z' } });
    await t.send(late);
    const v = await t.until('the late trial event recorded', (s) => s.history.some((h) => h.eventId === late.eventId));
    assert.equal(v.trial?.expiresAt, '2027-02-01T00:00:00Z');
    assert.equal(t.stubs.of('recordTrial').length, 1);
    assert.equal(v.history.find((h) => h.eventId === late.eventId)?.result, 'superseded');
    assert.match(v.ignoredEvents.find((e) => e.eventId === late.eventId)?.reason ?? '', /keeps the newer trial/);
    // Ends with the workflow: a test server terminating a workflow mid-task kept time skipping locked for later tests.
    await t.send(t.event('app.uninstalled', { atSeconds: 30 }));
    assert.equal((await t.result()).trial?.expiresAt, '2027-02-01T00:00:00Z');
  });

  it('an update older than an applied update re-reads the licensed users and keeps the newest subscription', async () => {
    const t = await active();
    const newer = t.event('app.updated', { atSeconds: 20, facts: { subscription: { plan: { name: 'pro', licenses: 20 } } } });
    await t.send(newer);
    await t.settled('active', (v) => v.appliedEvents === 2);
    const late = t.event('app.updated', {
      atSeconds: 10,
      facts: { users: { adding: ['u-stale'], removing: ['u-kept'] }, subscription: { plan: { name: 'basic', licenses: 5 } } },
    });
    await t.send(late);
    const v = await t.settled('active', (s) => s.appliedEvents === 3);
    const call = t.stubs.of('applyUpdate')[1];
    assert.equal(call?.resyncUsers, true);
    // Keyed by the newest update applied when it began too (activities/update-keys.ts); an update in order by its event.
    assert.deepEqual([t.stubs.of('applyUpdate')[0]?.lateAfter, call?.lateAfter], [undefined, newer.createdAt]);
    assert.deepEqual([call?.usersAdding, call?.usersRemoving, call?.subscription], [[], [], undefined]);
    assert.deepEqual(v.subscription, { plan: { name: 'pro', licenses: 20 } });
    assert.deepEqual(phases(v), ['installing', 'updating', 'updating']);
    assert.match(v.history.at(-1)?.detail ?? '', /late update/);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:update', 'approve:update']);
    const [, inOrder, lateCall] = t.stubs.of('setInstallationState');
    assert.deepEqual([inOrder?.late, inOrder?.checkFirst], [undefined, false], 'an update in order is sent as it is');
    assert.deepEqual([lateCall?.late, lateCall?.checkFirst], [true, true], 'the late one reads Talkdesk and never sends blind');
  });

  it('an ignored event does not make older events late: an install after an update ignored while waiting for it is applied', async () => {
    // A one-second ordering grace, passed in real time (no time skipping needed).
    const t = await start(undefined, { orderingGraceMs: 1_000 });
    const update = t.event('app.updated', { atSeconds: 30 });
    await t.send(update);
    await t.until('the update to be ignored', (s) => s.ignoredEvents.some((e) => e.eventId === update.eventId));
    const install = t.event('app.installed', { atSeconds: 10 });
    await t.send(install);
    const v = await t.settled('active');
    assert.equal(v.activeClientId, clientIdFor(install.eventId));
    assert.deepEqual(phases(v), ['installing']);
  });

  it('an install older than the applied uninstall is over; a finished installation records the ids it ignored', async () => {
    const {
      t,
      events: [late, update],
    } = await finished((run) => [run.event('app.installed', { atSeconds: 10 }), run.event('app.updated', { atSeconds: 40 })]);
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(t.stubs.of('importCredentials'), []);
    assert.match(done.ignoredEvents.find((e) => e.eventId === late.eventId)?.reason ?? '', /older than the applied uninstall/);
    // Its credentials will never be imported: their encrypted copy is deleted now, not after the inbox retention.
    // Local and at-least-once: the run's refused completion (the events arrived as it ended) may run it twice.
    assert.deepEqual(t.stubs.distinct('discardEventCredentials'), [{ installationId: t.installationId, eventId: late.eventId }]);
    const last = t.stubs.of('recordInstallation').at(-1);
    assert.deepEqual(last?.handledEventIds, ['uninstall-1', late.eventId, update.eventId]);
    assert.equal(last?.appId, 'app-1', 'the stored app id is kept');
  });

  it('an uninstall older than a reinstall already applied (same installation id) is over: the live installation is kept', async () => {
    const t = await active();
    const reinstall = t.event('app.installed', { atSeconds: 20 });
    await t.send(reinstall);
    await t.settled('active', (v) => v.appliedEvents === 2);
    // The uninstall of the first life, delivered late (its first delivery failed; Talkdesk retries after minutes).
    const stale = t.event('app.uninstalled', { atSeconds: 10 });
    await t.send(stale);
    const v = await t.until('the stale uninstall ignored', (s) => s.ignoredEvents.some((e) => e.eventId === stale.eventId));
    assert.equal(v.phase, 'active');
    assert.match(v.ignoredEvents.find((e) => e.eventId === stale.eventId)?.reason ?? '', /older than the applied install/);
    assert.deepEqual(t.stubs.of('deprovisionAccount'), [], 'before, it deprovisioned the live account');
    assert.deepEqual(t.stubs.of('destroyCredentials'), []);
    assert.equal(v.activeClientId, clientIdFor(reinstall.eventId));
    assert.equal(t.stubs.of('recordInstallation').at(-1)?.installEventAt, reinstall.createdAt, 'kept for a run resumed from the record');
    await t.send(t.event('app.uninstalled', { atSeconds: 30 }));
    assert.equal((await t.result()).phase, 'uninstalled');
  });

  it('a run resumed from the record (its workflow lost after a reinstall) restores the install time: an older uninstall is over', async () => {
    const t0 = await env().currentTimeMs();
    const reinstalledAt = new Date(t0 + 20_000).toISOString();
    const t = await start(
      new ActivityStubs().on('loadInstallation', async () => ({
        phase: 'active',
        appId: 'app-1',
        accountId: 'acct-1',
        activeClientId: 'client-reinstalled',
        lastEventAt: reinstalledAt,
        installEventAt: reinstalledAt,
        handledEventIds: ['reinstall-1'],
        links: {},
      })),
    );
    const stale = t.event('app.uninstalled', { atSeconds: 10 });
    await t.send(stale);
    const v = await t.until('the stale uninstall ignored', (s) => s.ignoredEvents.some((e) => e.eventId === stale.eventId));
    assert.equal(v.phase, 'active');
    assert.deepEqual(t.stubs.of('deprovisionAccount'), []);
    await t.send(t.event('app.uninstalled', { atSeconds: 30 }));
    assert.equal((await t.result()).phase, 'uninstalled');
  });

  it('an uninstall older than the reinstall running does not interrupt it', async () => {
    const gate = deferred();
    const stubs = new ActivityStubs().on('provisionAccount', async (i) => {
      if (stubs.of('provisionAccount').length > 1) await gate.promise; // the reinstall's, held
      return { accountId: 'acct-1', accountName: String(i.accountName), licensedUsers: 1, settingsRestored: false };
    });
    const t = await active(stubs);
    await t.send(t.event('app.installed', { atSeconds: 20 }));
    await t.until('the reinstall provisioning', () => stubs.of('provisionAccount').length === 2);
    const stale = t.event('app.uninstalled', { atSeconds: 10 });
    await t.send(stale);
    await t.until('the stale uninstall ignored', (s) => s.ignoredEvents.some((e) => e.eventId === stale.eventId));
    gate.resolve();
    const v = await t.settled('active', (s) => s.appliedEvents === 2);
    assert.deepEqual(phases(v), ['installing', 'installing'], 'the reinstall was not interrupted');
    assert.equal(v.history.at(-1)?.result, 'approved');
    assert.deepEqual(t.stubs.of('undoProvisioning'), []);
    await t.send(t.event('app.uninstalled', { atSeconds: 30 }));
    assert.equal((await t.result()).phase, 'uninstalled');
  });

  it("a rotation for a finished installation is ignored and its credentials' copy deleted; a reinstall behind it keeps its own", async () => {
    const {
      t,
      events: [rotation, reinstall],
    } = await finished((run) => [run.event('app.credentials_rotated', { atSeconds: 40 }), run.event('app.installed', { atSeconds: 50 })]);
    const v = await t.settled('active', (s) => s.activeClientId === clientIdFor(reinstall.eventId));
    assert.match(
      v.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '',
      /rotation ignored: installation is uninstalled/,
    );
    // Local and at-least-once: the run's refused completion (the events arrived as it ended) may run it twice.
    assert.deepEqual(t.stubs.distinct('discardEventCredentials'), [{ installationId: t.installationId, eventId: rotation.eventId }]);
    assert.deepEqual(
      t.stubs.of('importCredentials').map((i) => i.eventId),
      [reinstall.eventId],
    );
  });

  it("a reinstall queued behind a running uninstall keeps its credentials' copy: the uninstall's destroy names it", async () => {
    const deprovisioning = deferred();
    const release = deferred();
    const t = await active(
      new ActivityStubs().on('deprovisionAccount', async () => {
        deprovisioning.resolve();
        await release.promise;
      }),
    );
    const install = t.stubs.of('importCredentials')[0]?.eventId;
    const uninstall = t.event('app.uninstalled', { atSeconds: 20 });
    await t.send(uninstall);
    await deprovisioning.promise;
    // A rotation and an install older than the uninstall (late: not kept), and the reinstall.
    // Routine, as its event says (one without the flag would be adopted for the uninstall's acknowledgement).
    const rotation = t.event('app.credentials_rotated', { atSeconds: 10, facts: { compromised: false } });
    const reinstall = t.event('app.installed', { atSeconds: 30 });
    await t.send(rotation, t.event('app.installed', { atSeconds: 15 }), reinstall);
    await t.until('all three queued', (v) => v.pendingEvents.length === 3);
    release.resolve();
    await t.settled('active', (s) => s.activeClientId === clientIdFor(reinstall.eventId));
    // Before, the destroy deleted every copy of the installation's, the reinstall's with them (its import
    // then failed at the store; these stubs hold none, so the destroy's input is what shows it).
    // A reinstall whose copy is stored but not yet signalled is kept by time: installs newer than the uninstall.
    const kept = { keepEventIds: [reinstall.eventId], keepNewerThan: uninstall.createdAt };
    assert.deepEqual(t.stubs.of('destroyCredentials'), [{ installationId: t.installationId, ...kept }]);
    assert.deepEqual(
      t.stubs.of('importCredentials').map((i) => i.eventId),
      [install, reinstall.eventId],
    );
  });

  it('a reinstall signalled while the destroy runs is kept by its next attempt', async () => {
    const destroying = deferred();
    const fail = deferred();
    let attempts = 0;
    const t = await active(
      new ActivityStubs().on('destroyCredentials', async () => {
        attempts += 1;
        if (attempts === 1) {
          destroying.resolve();
          await fail.promise;
          throw unavailable();
        }
        return { destroyed: 1 };
      }),
    );
    const uninstall = t.event('app.uninstalled', { atSeconds: 20 });
    await t.send(uninstall);
    await destroying.promise;
    const reinstall = t.event('app.installed', { atSeconds: 30 });
    await t.send(reinstall);
    await t.until('the reinstall queued', (v) => v.pendingEvents.some((p) => p.includes(reinstall.eventId)));
    fail.resolve();
    await t.settled('active', (s) => s.activeClientId === clientIdFor(reinstall.eventId));
    const inputs = t.stubs.of('destroyCredentials');
    const after = { keepNewerThan: uninstall.createdAt };
    assert.deepEqual(inputs[0], { installationId: t.installationId, ...after }, 'nothing queued at the first attempt');
    assert.deepEqual(inputs.at(-1), { installationId: t.installationId, keepEventIds: [reinstall.eventId], ...after });
  });

  it('a reinstall signalled while a finished run writes its last record is applied, not dropped by completing', async () => {
    const t0 = await env().currentTimeMs();
    const inRecord = deferred();
    const release = deferred();
    let records = 0;
    const stubs = new ActivityStubs()
      .on('loadInstallation', async () => ({
        phase: 'uninstalled',
        appId: 'app-1',
        lastEventAt: new Date(t0 + 10_000).toISOString(),
        handledEventIds: ['uninstall-x'],
      }))
      .on('recordInstallation', async () => {
        records += 1;
        if (records === 1) throw unavailable(); // the bounded local attempt fails: retried as a server activity
        if (records === 2) {
          inRecord.resolve();
          await release.promise;
        }
        return undefined;
      });
    const t = await start(stubs);
    // A late update (ignored: uninstalled) opens a short run that ends by recording the id it ignored.
    await t.send(t.event('app.updated', { atSeconds: 5 }));
    await inRecord.promise;
    const reinstall = t.event('app.installed', { atSeconds: 30 });
    await t.send(reinstall);
    await t.until('the reinstall queued', (v) => v.pendingEvents.some((p) => p.includes(reinstall.eventId)));
    release.resolve();
    // The run goes on with the reinstall (a new life of the installation) instead of completing.
    const v = await t.settled('active');
    assert.deepEqual(v.pendingEvents, []);
    assert.equal(t.stubs.of('importCredentials').length, 1, 'the reinstall imported its credentials');
    assert.equal((await t.handle.describe()).status.name, 'RUNNING');
  });
});
