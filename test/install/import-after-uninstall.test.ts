import assert from 'node:assert/strict';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { deferred } from '../workflows/activity-stubs';

/**
 * An install's import attempt that the workflow stopped waiting for (the uninstall interrupted it) can run
 * beside the uninstall's destroyCredentials (FerretDB, simulator). Wherever the destroy lands, no set is left
 * with its secret: before, a set written after the destroy listed the sets stayed `active` after the
 * installation ended.
 */
describe('an import racing the uninstall’s destroyCredentials (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(async () => h?.close());

  /** Runs the uninstall's destroy once, just before `obj[method]` next runs. */
  function destroyBefore(obj: object, method: string, installationId: string): { ran: () => boolean } {
    const o = obj as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const original = o[method];
    assert.ok(original);
    let ran = false;
    o[method] = async (...a: unknown[]) => {
      o[method] = original;
      await h.run(h.acts.destroyCredentials, { installationId });
      ran = true;
      return original.apply(obj, a);
    };
    return { ran: () => ran };
  }

  async function stored() {
    const { installation, event } = h.simulator.createInstallation({ licensedUsers: 1 });
    await h.storeEvent(event);
    return { installationId: installation.id, eventId: event.id };
  }

  const importing = (ids: { installationId: string; eventId: string }) => h.run(h.acts.importCredentials, { ...ids, activate: true });

  async function assertNothingKept(ids: { installationId: string; eventId: string }) {
    const sets = await h.store.credentials.list(ids.installationId);
    assert.deepEqual(
      sets.filter((s) => s.status !== 'destroyed' || s.secret !== undefined),
      [],
      'no set left usable, no secret kept',
    );
    assert.equal(await h.store.eventCredentials.get(ids.eventId), undefined, "the event's copy is gone");
  }

  const destroyedMeanwhile = (err: Error) => {
    assert.equal((err as Error & { type?: string }).type, 'CredentialsMissing', String(err));
    assert.match(err.message, /destroyed while event .* were being imported/);
    return true;
  };

  it('the destroy lands before the set is written: the import destroys the set it wrote and fails as CredentialsMissing', async () => {
    const ids = await stored();
    const d = destroyBefore(h.store.credentials, 'index', ids.installationId);
    await assert.rejects(importing(ids), destroyedMeanwhile);
    assert.ok(d.ran());
    assert.equal((await h.store.credentials.list(ids.installationId)).length, 1, 'the set was written');
    await assertNothingKept(ids);
  });

  it('the destroy lands before the event’s copy is read: nothing to import', async () => {
    const ids = await stored();
    const d = destroyBefore(h.store.eventCredentials, 'get', ids.installationId);
    await assert.rejects(importing(ids), (err: Error) => {
      assert.equal((err as Error & { type?: string }).type, 'CredentialsMissing', String(err));
      return true;
    });
    assert.ok(d.ran());
    assert.deepEqual(await h.store.credentials.list(ids.installationId), [], 'no set written');
    await assertNothingKept(ids);
  });

  it('the destroy lands while the set is activated: destroyed all the same', async () => {
    const ids = await stored();
    const d = destroyBefore(h.store.credentials, 'activate', ids.installationId);
    await assert.rejects(importing(ids), destroyedMeanwhile);
    assert.ok(d.ran());
    await assertNothingKept(ids);
  });

  it('a destroy that finished before the import began does not touch it; a destroyed set is not taken as imported', async () => {
    const { installation, event } = h.simulator.createInstallation({ licensedUsers: 1 });
    const ids = { installationId: installation.id, eventId: event.id };
    await h.run(h.acts.destroyCredentials, { installationId: ids.installationId });
    await h.storeEvent(event); // a reinstall's event, stored after the uninstall ended
    const { clientId } = await importing(ids);
    assert.equal((await h.store.credentials.get(ids.installationId, clientId))?.status, 'active');
    assert.ok(await h.store.credentials.usable(ids.installationId, clientId));
    // Its set destroyed since, the same event's import (its copy gone) is refused, not reported as imported.
    await h.run(h.acts.destroyCredentials, { installationId: ids.installationId });
    await assert.rejects(importing(ids), /No usable credentials/);
  });

  it('a reinstall of the same installation id queued behind the uninstall keeps its copy when the destroy names it', async () => {
    const first = await h.installing(1);
    const installationId = first.installation.id;
    // Talkdesk reinstalls under the same installation id: an app.installed with a new client.
    const fresh = h.simulator.rotateCredentials(installationId).data;
    const { compromised: _c, ...credentials } = fresh;
    const reinstall = { ...first.event, id: `${first.event.id}-again`, data: { ...first.event.data, ...credentials } };
    const ended = { ...first.event, id: `${first.event.id}-redelivered` }; // a copy the installation never imported
    await h.storeEvent(ended);
    await h.storeEvent(reinstall);
    const destroyed = await h.run(h.acts.destroyCredentials, { installationId, keepEventIds: [reinstall.id] });
    assert.equal(destroyed.destroyed, 2, "the first install's set and the copy not kept");
    assert.equal(await h.store.eventCredentials.get(ended.id), undefined, 'a copy not named is destroyed');
    assert.ok(await h.store.eventCredentials.get(reinstall.id), "the reinstall's copy kept");
    const { clientId } = await importing({ installationId, eventId: reinstall.id });
    assert.equal(clientId, fresh.client_id);
    assert.equal((await h.store.credentials.get(installationId, clientId))?.status, 'active');
    // Without the name (as before), the destroy takes the reinstall's only copy: nothing left to import.
    const again = { ...reinstall, id: `${first.event.id}-third` };
    await h.storeEvent(again);
    await h.run(h.acts.destroyCredentials, { installationId });
    assert.equal(await h.store.eventCredentials.get(again.id), undefined);
  });
  /** An installed installation and a same-id reinstall's event stored (a new client), named `suffix`. */
  async function withReinstallStored(suffix: string) {
    const first = await h.installing(1);
    const installationId = first.installation.id;
    const { compromised: _c, ...credentials } = h.simulator.rotateCredentials(installationId).data;
    const reinstall = { ...first.event, id: `${first.event.id}-${suffix}`, data: { ...first.event.data, ...credentials } };
    await h.storeEvent(reinstall);
    return { first, installationId, reinstall };
  }

  /** `obj[method]`'s next call stalls (`reached`) until `go()`: a store call hanging while its attempt timed out. */
  function stallOnce(obj: object, method: string): { reached: Promise<void>; go: () => void } {
    const o = obj as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const original = o[method]!.bind(obj);
    const reached = deferred();
    const gate = deferred();
    o[method] = async (...a: unknown[]) => {
      o[method] = original;
      reached.resolve();
      await gate.promise;
      return original(...a);
    };
    return { reached: reached.promise, go: () => gate.resolve() };
  }

  it("an uninstall's destroy attempt that lists the sets only after the reinstall's import spares the reinstall's set", async () => {
    const { first, installationId, reinstall } = await withReinstallStored('reinstall');
    const creds = h.store.credentials;
    // The attempt stalls after counting its close, before it lists the sets.
    const listing = stallOnce(creds, 'list');
    const destroying = h.run(h.acts.destroyCredentials, { installationId, keepEventIds: [reinstall.id] });
    await listing.reached;
    const { clientId } = await importing({ installationId, eventId: reinstall.id });
    listing.go();
    await destroying; // the first install's set: destroyed by the reinstall's import (it replaces earlier sets) or here
    assert.equal((await creds.get(installationId, first.clientId))?.status, 'destroyed');
    assert.equal((await creds.get(installationId, clientId))?.status, 'active');
    assert.ok(await creds.usable(installationId, clientId), "the reinstall's secret is kept");
  });

  it("an uninstall's destroy attempt whose close is counted only during the reinstall's import: the import stands", async () => {
    const { installationId, reinstall } = await withReinstallStored('late-count');
    const creds = h.store.credentials;
    // The attempt stalls on its count's write; the write lands while the import runs, and the sets are listed then.
    const counting = stallOnce((creds as unknown as { closes: object }).closes, 'updateOne');
    const destroying = h.run(h.acts.destroyCredentials, { installationId, keepEventIds: [reinstall.id] });
    await counting.reached;
    const activate = creds.activate.bind(creds);
    let raced = false;
    creds.activate = async (...a: Parameters<typeof activate>) => {
      creds.activate = activate;
      raced = true;
      counting.go();
      await destroying; // counted, and the sets listed: the reinstall's spared
      return activate(...a);
    };
    const { clientId } = await importing({ installationId, eventId: reinstall.id });
    assert.ok(raced, "the count landed during the import's activation: the race under test");
    await destroying;
    assert.equal((await creds.get(installationId, clientId))?.status, 'active');
    assert.ok(await creds.usable(installationId, clientId), "the reinstall's secret is kept");
  });

  it("an uninstall's destroy attempt that listed the sets, then stalled, leaves a same-client reinstall imported since alone", async () => {
    const first = await h.installing(1);
    const installationId = first.installation.id;
    const reinstall = { ...first.event, id: `${first.event.id}-same-client` }; // Talkdesk hands the same client again
    await h.storeEvent(reinstall);
    const creds = h.store.credentials;
    const judging = stallOnce(creds, 'destroy'); // listed the first install's set, then stalled
    const stale = h.run(h.acts.destroyCredentials, { installationId, keepEventIds: [reinstall.id] });
    await judging.reached;
    await h.run(h.acts.destroyCredentials, { installationId, keepEventIds: [reinstall.id] }); // the step's next attempt
    const { clientId } = await importing({ installationId, eventId: reinstall.id });
    assert.equal(clientId, first.clientId);
    judging.go();
    await stale;
    const set = await creds.get(installationId, clientId);
    assert.deepEqual([set?.status, set?.sourceEventId], ['active', reinstall.id]);
    assert.ok(await creds.usable(installationId, clientId), "the reinstall's secret is kept");
  });

  it("an install's import stalled across an uninstall whose destroy counted two closes leaves a same-client reinstall's set alone", async () => {
    const { installation, event } = h.simulator.createInstallation({ licensedUsers: 1 });
    await h.storeEvent(event);
    const ids = { installationId: installation.id, eventId: event.id };
    const creds = h.store.credentials;
    const activating = stallOnce(creds, 'activate'); // the set written, the copy deleted; then the attempt stalls
    const stale = importing(ids);
    await activating.reached;
    // The uninstall: its local attempt counted a close and timed out, its retry counted another and destroyed.
    for (let i = 0; i < 2; i += 1) await h.run(h.acts.destroyCredentials, { installationId: ids.installationId });
    const reinstall = { ...event, id: `${event.id}-same-client` }; // Talkdesk hands the same client again
    await h.storeEvent(reinstall);
    const { clientId } = await importing({ installationId: ids.installationId, eventId: reinstall.id });
    activating.go();
    await assert.rejects(stale, destroyedMeanwhile); // two closes since it began: it gives up, as before
    const set = await creds.get(ids.installationId, clientId);
    assert.deepEqual([set?.status, set?.sourceEventId], ['active', reinstall.id]);
    assert.ok(await creds.usable(ids.installationId, clientId), "the reinstall's secret is kept");
  });

  it('a reinstall stored but not yet handed over (not named) keeps its copy: events newer than the ended one are spared', async () => {
    const first = await h.installing(1);
    const installationId = first.installation.id;
    const uninstalledAt = new Date(Date.parse(first.installed.createdAt) + 60_000);
    const at = (ms: number) => new Date(uninstalledAt.getTime() + ms).toISOString();
    const fresh = h.simulator.rotateCredentials(installationId);
    const { compromised: _c, ...credentials } = fresh.data;
    const install = (id: string, createdAt: string) => ({
      ...first.event,
      id,
      created_at: createdAt,
      data: { ...first.event.data, ...credentials },
    });
    const reinstall = install(`${first.event.id}-reinstall`, at(30_000)); // the callback stored it; its signal not sent yet
    const older = install(`${first.event.id}-older`, at(-30_000)); // older than the uninstall: superseded, not kept
    const sameTime = install(`${first.event.id}-same`, at(0)); // not newer (the queue applies it before the uninstall)
    const rotation = (id: string, createdAt: string) => ({ ...fresh, id, created_at: createdAt });
    const reinstallRotation = rotation(`${fresh.id}-after`, at(40_000)); // the reinstall's rotation: kept
    const lateRotation = rotation(`${fresh.id}-late`, at(-10_000)); // the ended installation's: not kept
    for (const e of [reinstall, older, sameTime, reinstallRotation, lateRotation]) await h.storeEvent(e);
    const destroyed = await h.run(h.acts.destroyCredentials, { installationId, keepNewerThan: uninstalledAt.toISOString() });
    assert.equal(destroyed.destroyed, 4, "the first install's set and the copies of the three events not newer");
    for (const e of [older, sameTime, lateRotation]) assert.equal(await h.store.eventCredentials.get(e.id), undefined, e.id);
    for (const e of [reinstall, reinstallRotation]) assert.ok(await h.store.eventCredentials.get(e.id), `${e.id} kept`);
    const { clientId } = await importing({ installationId, eventId: reinstall.id });
    assert.equal(clientId, fresh.data.client_id);
    assert.equal((await h.store.credentials.get(installationId, clientId))?.status, 'active');
    // A copy stored by an older version (no event time) is not kept by time: as before.
    const legacy = install(`${first.event.id}-legacy`, at(50_000));
    await h.storeEvent(legacy);
    await h.db.collection('event_credentials').updateOne({ _id: legacy.id as never }, { $unset: { eventCreatedAt: '' } });
    await h.run(h.acts.destroyCredentials, { installationId, keepNewerThan: uninstalledAt.toISOString() });
    assert.equal(await h.store.eventCredentials.get(legacy.id), undefined);
  });

  it('a reinstall under the same installation and client ids imports over the set the uninstall destroyed', async () => {
    const first = await h.installing(1);
    const installationId = first.installation.id;
    await h.run(h.acts.destroyCredentials, { installationId });
    assert.equal((await h.store.credentials.get(installationId, first.clientId))?.status, 'destroyed');
    // Talkdesk reinstalls and hands the same client again: before, the destroyed set was kept as it was and the
    // reinstall's only copy deleted, leaving it no credentials.
    const reinstall = { ...first.event, id: `${first.event.id}-reinstalled` };
    await h.storeEvent(reinstall);
    const { clientId } = await importing({ installationId, eventId: reinstall.id });
    assert.equal(clientId, first.clientId);
    const set = await h.store.credentials.get(installationId, clientId);
    assert.deepEqual([set?.status, set?.sourceEventId, set?.destroyedAt], ['active', reinstall.id, undefined]);
    assert.ok(await h.store.credentials.usable(installationId, clientId), 'its secret is stored');
    assert.equal(await h.store.eventCredentials.get(reinstall.id), undefined, 'the copy is gone once imported');
  });
});
