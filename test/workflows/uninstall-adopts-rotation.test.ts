import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { LifecycleEvent } from '../../workflows/definitions';
import { activeInstallation as activeOne } from './active-installation';
import { ActivityStubs, clientIdFor, deferred, resumedFromRecord, unavailable, useInstallationUnderTest } from './harness';

/**
 * A rotation delivered while the uninstall runs (queued behind it, its first delivery failed): one an uninstall adopts
 * gives the acknowledgement its set (patch uninstall-adopts-rotation-queued-meanwhile), not an earlier life's.
 */
describe('installation workflow: a rotation delivered while the uninstall deprovisions', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();
  const activeInstallation = (stubs?: ActivityStubs) => activeOne(start, stubs);

  /** Stubs whose first deprovision waits for `release` (a large account: minutes). */
  const blockingDeprovision = () => {
    const inDeprovision = deferred();
    const release = deferred();
    let first = true;
    const stubs = new ActivityStubs().on('deprovisionAccount', async () => {
      if (!first) return undefined;
      first = false;
      inDeprovision.resolve();
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 200);
      await release.promise.finally(() => clearInterval(beat));
      return undefined;
    });
    return { stubs, inDeprovision, release };
  };

  /** An active installation whose uninstall's first deprovision waits for `release`. */
  const uninstallDeprovisioning = async () => {
    const { stubs, inDeprovision, release } = blockingDeprovision();
    const { t, oldClient } = await activeInstallation(stubs);
    /** Sends the uninstall, then `rotation` once the deprovision is under way; returns the finished view. */
    const uninstallThenDeliver = async (rotation: LifecycleEvent, uninstallAt?: number) => {
      await t.send(t.event('app.uninstalled', uninstallAt === undefined ? {} : { atSeconds: uninstallAt }));
      await inDeprovision.promise;
      // Its first delivery failed: Talkdesk's redelivery arrives while the uninstall runs.
      await t.send(rotation);
      await t.until('the rotation to be queued', (v) => v.pendingEvents.some((p) => p.endsWith(rotation.eventId)));
      release.resolve();
      return t.result();
    };
    return { t, oldClient, uninstallThenDeliver };
  };

  it('a compromised rotation delivered while the uninstall deprovisions gives the acknowledgement its set (patches-decided-at-start-12)', async () => {
    const { t, oldClient, uninstallThenDeliver } = await uninstallDeprovisioning();
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: true } });
    const done = await uninstallThenDeliver(rotation);
    assert.equal(done.history.at(-1)?.result, 'acknowledged', done.history.at(-1)?.outcome);
    const newClient = clientIdFor(rotation.eventId);
    assert.notEqual(newClient, oldClient);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:uninstall']);
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, newClient, "with the rotation's set: the old one is revoked");
    assert.deepEqual(t.stubs.of('acknowledgeCredentials'), [], 'never acknowledged as a rotation');
    assert.match(done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '', /superseded by the running uninstall/);
  });

  it('a rotation whose import for the uninstall is cut by a continue-as-new (its backoff) is adopted in the next run, not dropped', async () => {
    const { stubs, inDeprovision, release } = blockingDeprovision();
    const importRuns = new Set<string>();
    let failures = 0;
    let rotationId = ''; // set once the installation exists
    stubs.on('importCredentials', async (i) => {
      if (i.eventId !== rotationId) return { clientId: clientIdFor(String(i.eventId)), keyId: 'key-1', keyAlgorithm: 'ES256' };
      importRuns.add(Context.current().info.workflowExecution?.runId ?? '');
      if (failures++ < 12) throw unavailable(); // the store out a while: backoffs, and the run grows past its threshold
      return { clientId: clientIdFor(String(i.eventId)), keyId: 'key-2', keyAlgorithm: 'ES256' };
    });
    const { t } = await activeOne(start, stubs, { retryInitialMs: 100, retryMaxMs: 200, maxHistoryEventsPerRun: 60 });
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: true } });
    rotationId = rotation.eventId;
    await t.send(t.event('app.uninstalled'));
    await inDeprovision.promise;
    await t.send(rotation);
    await t.until('the rotation to be queued', (v) => v.pendingEvents.some((p) => p.endsWith(rotation.eventId)));
    release.resolve();
    const done = await t.result();
    assert.ok(importRuns.size >= 2, `its import was carried over to a new run (${importRuns.size} runs)`);
    assert.equal(done.history.at(-1)?.result, 'acknowledged', done.history.at(-1)?.outcome);
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, clientIdFor(rotationId), "with the rotation's set");
  });

  it('a compromised rotation of an earlier life (older than a same-id reinstall) delivered while the uninstall deprovisions is not adopted', async () => {
    const { t, uninstallThenDeliver } = await uninstallDeprovisioning();
    const reinstall = t.event('app.installed', { atSeconds: 100 });
    await t.send(reinstall);
    await t.settled('active', (v) => v.activeClientId === clientIdFor(reinstall.eventId));
    const earlier = t.event('app.credentials_rotated', { atSeconds: 50, facts: { compromised: true } });
    const done = await uninstallThenDeliver(earlier, 200);
    const uninstall = done.history.find((h) => h.phase === 'uninstalling');
    assert.equal(uninstall?.result, 'acknowledged', uninstall?.outcome);
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, clientIdFor(reinstall.eventId), "with the reinstall's set");
    assert.ok(!t.stubs.of('importCredentials').some((i) => i.eventId === earlier.eventId), 'its revoked set never imported');
  });

  it('a compromised rotation older than a same-id reinstall skipped for its own uninstall is not adopted (patches-decided-at-start-13)', async () => {
    const { stubs, inDeprovision, release } = blockingDeprovision();
    // A run resumed from the record of a live installation (installed at second 1), held in its first step so that a
    // reinstall and its own uninstall, delivered together, are both queued when it begins.
    const loaded = deferred();
    const record = { appId: 'app-1', accountId: 'acct-1', activeClientId: 'client-lost-run', links: { root: 'https://api.talkdesk.test' } };
    let installedAt = '';
    stubs.on('loadInstallation', async () => {
      await loaded.promise;
      return { ...record, phase: 'active', installEventAt: installedAt, lastEventAt: installedAt };
    });
    const t = await start(stubs);
    installedAt = t.event('app.installed', { atSeconds: 1 }).createdAt;
    const reinstall = t.event('app.installed', { atSeconds: 100 });
    await t.send(reinstall, t.event('app.uninstalled', { atSeconds: 200 }));
    loaded.resolve();
    await inDeprovision.promise;
    // The first life's compromised rotation (before the reinstall), its first delivery failed, arriving now.
    const earlier = t.event('app.credentials_rotated', { atSeconds: 50, facts: { compromised: true } });
    await t.send(earlier);
    await t.until(
      'the rotation to be taken',
      (v) => v.ignoredEvents.some((e) => e.eventId === earlier.eventId) || v.pendingEvents.some((p) => p.endsWith(earlier.eventId)),
    );
    release.resolve();
    const done = await t.result();
    assert.match(done.ignoredEvents.find((e) => e.eventId === reinstall.eventId)?.reason ?? '', /superseded by a queued uninstall/);
    assert.equal(done.history.find((h) => h.phase === 'uninstalling')?.result, 'acknowledged');
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, clientIdFor(reinstall.eventId), "with the reinstall's set");
    assert.ok(!t.stubs.of('importCredentials').some((i) => i.eventId === earlier.eventId), 'its revoked set never imported');
  });

  it('a compromised rotation of a life that ended before a reinstall skipped for its own uninstall is not adopted', async () => {
    const inDeprovision = deferred();
    const release = deferred();
    // A run for a finished installation (its record: installed, then uninstalled), then a reinstall and its uninstall.
    const day = (d: number) => `2000-01-0${d}T00:00:00.000Z`;
    const stubs = resumedFromRecord({ phase: 'uninstalled', installEventAt: day(1), uninstallEventAt: day(3), lastEventAt: day(3) }).on(
      'deprovisionAccount',
      async () => {
        inDeprovision.resolve();
        const ctx = Context.current();
        const beat = setInterval(() => ctx.heartbeat(), 200);
        await release.promise.finally(() => clearInterval(beat));
        return undefined;
      },
    );
    const t = await start(stubs);
    const reinstall = t.event('app.installed');
    await t.send(reinstall, t.event('app.uninstalled'));
    await inDeprovision.promise;
    // The first life's compromised rotation (between its install and its uninstall), delivered late.
    const earlier = { ...t.event('app.credentials_rotated', { facts: { compromised: true } }), createdAt: day(2) };
    await t.send(earlier);
    await t.until('the rotation to be queued', (v) => v.pendingEvents.some((p) => p.endsWith(earlier.eventId)));
    release.resolve();
    const done = await t.result();
    assert.equal(done.history.find((h) => h.phase === 'uninstalling')?.result, 'acknowledged');
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.clientId, clientIdFor(reinstall.eventId), "with the reinstall's set");
    assert.ok(!t.stubs.of('importCredentials').some((i) => i.eventId === earlier.eventId), 'its revoked set never imported');
  });

  /**
   * An active installation whose uninstall's first acknowledgement waits until `rotation` is queued, then fails with
   * `firstFailure`; later calls with the old set answer as the activity does for a set the rotation revoked (a retry:
   * `invalid_client`, taken for Talkdesk's revocation after an earlier attempt landed), with any other set `revoked`.
   */
  /** The client id of each uninstall acknowledgement the workflow sent, in order. */
  const acknowledgementClients = (t: { stubs: ActivityStubs }) =>
    t.stubs
      .of('setInstallationState')
      .filter((i) => i.concludes === 'uninstall')
      .map((i) => i.clientId);

  const acknowledgementMeetsRotation = async (
    firstFailure: () => Error,
    rotationFacts: { compromised?: boolean },
    o: { newerThanUninstall?: boolean; importFails?: boolean } = {},
  ) => {
    const inAcknowledgement = deferred();
    const queued = deferred();
    let first = true;
    let oldClient = '';
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes !== 'uninstall') return { state: 'completed' };
      if (first) {
        first = false;
        inAcknowledgement.resolve();
        await queued.promise;
        throw firstFailure();
      }
      return i.clientId === oldClient ? { state: 'revoked', alreadyConcluded: true } : { state: 'revoked' };
    });
    let rotationId = '';
    if (o.importFails)
      stubs.on('importCredentials', async (i) => {
        if (i.eventId === rotationId) throw ApplicationFailure.nonRetryable('its copy is gone', 'CredentialsMissing');
        return { clientId: clientIdFor(String(i.eventId)), keyId: 'key-1', keyAlgorithm: 'ES256' };
      });
    const active = await activeInstallation(stubs);
    oldClient = active.oldClient;
    const { t } = active;
    // Talkdesk rotated before the uninstall (the old set revoked at once when compromised), the rotation's first
    // delivery failed: it arrives while the acknowledgement runs. Or (`newerThanUninstall`) made after the uninstall.
    const early = o.newerThanUninstall ? undefined : t.event('app.credentials_rotated', { facts: rotationFacts });
    await t.send(t.event('app.uninstalled'));
    const rotation = early ?? t.event('app.credentials_rotated', { facts: rotationFacts });
    rotationId = rotation.eventId;
    await inAcknowledgement.promise;
    await t.send(rotation);
    await t.until('the rotation to be queued', (v) => v.pendingEvents.some((p) => p.endsWith(rotation.eventId)));
    queued.resolve();
    return { t, oldClient, rotation, done: await t.result() };
  };

  it('a compromised rotation delivered while the acknowledgement retries is adopted, and the acknowledgement sent again with its set', async () => {
    const { t, oldClient, rotation, done } = await acknowledgementMeetsRotation(unavailable, { compromised: true });
    const uninstall = done.history.find((h) => h.phase === 'uninstalling');
    assert.equal(uninstall?.result, 'acknowledged', uninstall?.outcome);
    assert.deepEqual(
      acknowledgementClients(t),
      [oldClient, oldClient, clientIdFor(rotation.eventId)],
      "the retry with the revoked set, then the rotation's",
    );
    const last = t.stubs.of('setInstallationState').at(-1);
    assert.equal(last?.checkFirst, true, 'read first: an acknowledgement that landed is not sent twice');
    assert.match(done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '', /superseded by the running uninstall/);
    assert.deepEqual(t.stubs.of('acknowledgeCredentials'), [], 'never acknowledged as a rotation');
  });

  it('a compromised rotation delivered while a first acknowledgement fails for good (its set revoked) is adopted: acknowledged with it', async () => {
    const revoked = () => ApplicationFailure.nonRetryable('Talkdesk refused the credentials (invalid_client)', 'TalkdeskUnauthorized');
    const { t, oldClient, rotation, done } = await acknowledgementMeetsRotation(revoked, { compromised: true });
    assert.equal(done.history.find((h) => h.phase === 'uninstalling')?.result, 'acknowledged');
    assert.deepEqual(acknowledgementClients(t), [oldClient, clientIdFor(rotation.eventId)]);
  });

  it('a routine rotation within its grace delivered during the acknowledgement is not adopted (the old set is valid): no second call', async () => {
    const { t, oldClient, rotation, done } = await acknowledgementMeetsRotation(unavailable, { compromised: false });
    assert.equal(done.history.find((h) => h.phase === 'uninstalling')?.result, 'acknowledged');
    assert.deepEqual(acknowledgementClients(t), [oldClient, oldClient]);
    assert.ok(!t.stubs.of('importCredentials').some((i) => i.eventId === rotation.eventId), 'not imported for the uninstall');
  });

  it("a rotation newer than the uninstall delivered during the acknowledgement is not adopted: it may be a same-id reinstall's", async () => {
    const { t, oldClient, rotation, done } = await acknowledgementMeetsRotation(
      unavailable,
      { compromised: true },
      { newerThanUninstall: true },
    );
    assert.equal(done.history.find((h) => h.phase === 'uninstalling')?.result, 'acknowledged');
    assert.deepEqual(acknowledgementClients(t), [oldClient, oldClient]);
    assert.ok(!t.stubs.of('importCredentials').some((i) => i.eventId === rotation.eventId), 'its set not taken for the uninstall');
    assert.doesNotMatch(done.ignoredEvents.find((e) => e.eventId === rotation.eventId)?.reason ?? '', /running uninstall/);
  });

  it('a rotation whose set cannot be imported is not adopted, and the acknowledgement is not sent again with the same set', async () => {
    const revoked = () => ApplicationFailure.nonRetryable('Talkdesk refused the credentials (invalid_client)', 'TalkdeskUnauthorized');
    const { t, oldClient, done } = await acknowledgementMeetsRotation(revoked, { compromised: true }, { importFails: true });
    assert.equal(done.history.find((h) => h.phase === 'uninstalling')?.result, 'failed');
    assert.deepEqual(acknowledgementClients(t), [oldClient], "one call: its failure is the phase's");
  });
});
