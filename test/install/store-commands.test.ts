import assert from 'node:assert/strict';
import type { CommandStartedEvent } from 'mongodb';
import { COLLECTIONS } from '../../src/store';
import { SessionStore } from '../../src/store/sessions';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * The store commands of an install, an update, a rotation, a trial and an uninstall, run
 * through the activities in the workflow's order against FerretDB, with other installations'
 * documents in the store. FerretDB answers only an exact `{_id}` filter without reading and
 * decoding the whole collection (docs/performance.md), so on the collections that grow with
 * installations every command must be one: a structural check, not a timing.
 */
const GROWING = new Set<string>([
  COLLECTIONS.inbox,
  COLLECTIONS.credentials,
  'credential_sets',
  COLLECTIONS.tokens,
  COLLECTIONS.accounts,
  'account_users',
  COLLECTIONS.userMappings,
  COLLECTIONS.settings,
  COLLECTIONS.installations,
  COLLECTIONS.starterContent,
  COLLECTIONS.partnerCalls,
]);
/**
 * Collections whose documents live only while a step is under way (deleted when it ends), so
 * they stay small whatever the number of installations: their other filters are allowed, and
 * counted (`licensed_users_progress`: an uninstall deletes any reading left, by installation;
 * `event_credentials`: it deletes copies never imported, by installation; `sessions`, which
 * expire within hours: an update ends the removed users' and an uninstall every one, by installation).
 */
const TRANSIENT_ALLOWED = new Map<string, number>([
  [COLLECTIONS.licensedUsersProgress, 1],
  [COLLECTIONS.eventCredentials, 1],
  [COLLECTIONS.sessions, 2],
]);

const FILTER_OF: Record<string, (c: Record<string, unknown>) => unknown[]> = {
  find: (c) => [c.filter ?? {}],
  findAndModify: (c) => [c.query ?? {}],
  count: (c) => [c.query ?? {}],
  distinct: (c) => [c.query ?? {}],
  update: (c) => (c.updates as { q: unknown }[]).map((u) => u.q),
  delete: (c) => (c.deletes as { q: unknown }[]).map((d) => d.q),
  aggregate: () => [{ $pipeline: true }],
};

/** `{_id: <string or ObjectId>}` and nothing else: what FerretDB looks up by index. */
function exactId(filter: unknown): boolean {
  if (!filter || typeof filter !== 'object') return false;
  const keys = Object.keys(filter);
  const id = (filter as { _id?: unknown })._id;
  return (
    keys.length === 1 && keys[0] === '_id' && (typeof id === 'string' || (typeof id === 'object' && id?.constructor?.name === 'ObjectId'))
  );
}

interface Scan {
  collection: string;
  command: string;
  filter: unknown;
}

describe('install path: store commands are exact {_id} reads and writes (FerretDB, simulator, activities in-process)', function () {
  this.timeout(120_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** The commands sent while `fn` runs whose filter is not an exact `{_id}`. */
  async function scansDuring(fn: () => Promise<void>): Promise<{ scans: Scan[]; commands: number }> {
    const scans: Scan[] = [];
    let commands = 0;
    const listener = (e: CommandStartedEvent) => {
      const collection = e.command[e.commandName] as unknown;
      const filters = FILTER_OF[e.commandName];
      if (typeof collection !== 'string' || !filters) return;
      commands += 1;
      for (const filter of filters(e.command)) if (!exactId(filter)) scans.push({ collection, command: e.commandName, filter });
    };
    h.db.client.on('commandStarted', listener);
    try {
      await fn();
    } finally {
      h.db.client.off('commandStarted', listener);
    }
    return { scans, commands };
  }

  /** Install, update, rotation, trial and uninstall of one installation, in the workflow's order. */
  async function lifecycle(): Promise<{ installationId: string; accountId: string }> {
    // Install.
    const { installation, event, installed, base, ref, clientId } = await h.installing(3);
    const installationId = installation.id;
    const prov = await h.run(h.acts.provisionAccount, {
      ...ref,
      accountName: installation.accountName ?? '',
      eventId: event.id,
      occurredAt: installed.createdAt,
    });
    await h.run(h.acts.setInstallationState, { ...ref, state: 'approve', concludes: 'install' });
    await h.run(h.acts.recordInstallation, { ...base, phase: 'active', accountId: prov.accountId, activeClientId: clientId });
    // Update: a user added, one removed.
    const removing = (await h.store.accounts.listUsers(prov.accountId)).find((u) => u.role !== 'admin')?.talkdeskUserId;
    assert.ok(removing);
    const updated = h.simulator.updateUsers(installationId, { add: 1, remove: [removing] });
    await h.storeEvent(updated);
    await h.run(h.acts.recordInstallation, { ...base, phase: 'updating', accountId: prov.accountId, activeClientId: clientId });
    const data = updated.data as { users?: { adding: string[]; removing: string[] } };
    // Signed in: the removed user, and one who stays. The update ends the first's session, the uninstall the other's.
    const staying = (await h.store.accounts.listUsers(prov.accountId)).find((u) => u.talkdeskUserId !== removing)?.talkdeskUserId;
    assert.ok(staying);
    const sessions = new SessionStore(h.db);
    const open = (talkdeskUserId: string) =>
      sessions.open({ installationId, accountId: prov.accountId, talkdeskUserId, role: 'user' }, 3_600_000);
    const [removedSession, stayingSession] = [await open(removing), await open(staying)];
    const applied = await h.run(h.acts.applyUpdate, {
      ...ref,
      accountId: prov.accountId,
      usersAdding: data.users?.adding ?? [],
      usersRemoving: data.users?.removing ?? [],
      eventId: updated.id,
    });
    assert.deepEqual(applied.usersDeactivated, [removing]);
    assert.equal(await sessions.find(removedSession), undefined, "the removed user's session ended");
    assert.ok(await sessions.find(stayingSession), 'the other kept');
    await h.run(h.acts.setInstallationState, { ...ref, state: 'approve', concludes: 'update' });
    await h.run(h.acts.recordInstallation, { ...base, phase: 'active', accountId: prov.accountId, activeClientId: clientId });
    // Rotation.
    const rotated = h.simulator.rotateCredentials(installationId);
    await h.storeEvent(rotated);
    const next = await h.run(h.acts.importCredentials, { installationId, eventId: rotated.id, activate: false });
    await h.run(h.acts.obtainToken, { installationId, clientId: next.clientId });
    await h.run(h.acts.switchCredentials, {
      installationId,
      clientId: next.clientId,
      previousClientId: clientId,
      retireAt: new Date(Date.now() + 86_400_000).toISOString(),
      destroyPreviousNow: false,
    });
    await h.run(h.acts.recordInstallation, { ...base, phase: 'active', accountId: prov.accountId, activeClientId: next.clientId });
    // Trial.
    await h.run(h.acts.recordTrial, {
      installationId,
      accountId: prov.accountId,
      trial: { startedAt: new Date().toISOString() },
      eventId: `trial-${installationId}`,
    });
    // Uninstall.
    await h.run(h.acts.deprovisionAccount, { installationId, accountId: prov.accountId, eventId: `uninstall-${installationId}` });
    assert.equal(await sessions.find(stayingSession), undefined, 'the uninstall ended every session');
    await h.run(h.acts.destroyCredentials, { installationId });
    await h.run(h.acts.recordInstallation, { ...base, phase: 'uninstalled', accountId: prov.accountId });
    return { installationId, accountId: prov.accountId };
  }

  it('with other installations stored, the lifecycle sends no filter but an exact {_id} to growing collections', async () => {
    // Other installations' documents: two complete lifecycles and one left active.
    await lifecycle();
    await lifecycle();
    const { installation, event } = h.simulator.createInstallation();
    await h.storeEvent(event);
    await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });

    let ids: { installationId: string; accountId: string } | undefined;
    const { scans, commands } = await scansDuring(async () => {
      ids = await lifecycle();
    });
    assert.ok(commands > 30, `the commands were seen (${commands})`);
    const growing = scans.filter((s) => GROWING.has(s.collection));
    assert.deepEqual(growing, [], 'no command reads a growing collection by anything but {_id}');
    for (const s of scans) {
      assert.ok(TRANSIENT_ALLOWED.has(s.collection), `unexpected filter on ${s.collection}: ${JSON.stringify(s.filter)}`);
    }
    for (const [collection, allowed] of TRANSIENT_ALLOWED) {
      const n = scans.filter((s) => s.collection === collection).length;
      assert.ok(n <= allowed, `${collection}: ${n} filters other than {_id} (at most ${allowed}): ${JSON.stringify(scans)}`);
    }

    // And the lifecycle did what it must.
    assert.ok(ids);
    const sets = await h.store.credentials.list(ids.installationId);
    assert.equal(sets.length, 2);
    assert.ok(sets.every((s) => s.status === 'destroyed' && !s.secret));
    assert.equal((await h.store.accounts.getAccount(ids.accountId))?.status, 'disabled');
    const users = await h.store.accounts.listUsers(ids.accountId);
    assert.equal(users.length, 4, 'three users mapped at install, one added by the update');
    assert.ok(users.every((u) => !u.active));
    assert.equal(await h.db.collection(COLLECTIONS.tokens).countDocuments({ installationId: ids.installationId }), 0);
  });

  it('an update reverted and an install undone: {_id} only, and the account as it was', async () => {
    const { installation, event } = h.simulator.createInstallation({ licensedUsers: 2 });
    const installationId = installation.id;
    await h.storeEvent(event);
    const { scans } = await scansDuring(async () => {
      const creds = await h.run(h.acts.importCredentials, { installationId, eventId: event.id, activate: true });
      const ref = { installationId, appId: h.simulator.appId, clientId: creds.clientId, rootUrl: event._links.root.href };
      const prov = await h.run(h.acts.provisionAccount, { ...ref, accountName: installation.accountName, eventId: event.id });
      const removing = (await h.store.accounts.listUsers(prov.accountId)).find((u) => u.role !== 'admin')?.talkdeskUserId;
      assert.ok(removing);
      const updated = h.simulator.updateUsers(installationId, { add: 1, remove: [removing] });
      const adding = (updated.data as { users?: { adding: string[] } }).users?.adding ?? [];
      const applied = await h.run(h.acts.applyUpdate, {
        ...ref,
        accountId: prov.accountId,
        usersAdding: adding,
        usersRemoving: [removing],
      });
      await h.run(h.acts.revertUpdate, { installationId, accountId: prov.accountId, applied, eventId: updated.id });
      const active = (await h.store.accounts.listUsers(prov.accountId)).filter((u) => u.active).map((u) => u.talkdeskUserId);
      assert.deepEqual(active.sort(), installation.licensedUserIds.slice().sort(), 'the users as before the update');
      await h.run(h.acts.undoProvisioning, { installationId, accountId: prov.accountId, eventId: `undo-${installationId}` });
      assert.equal(await h.store.accounts.getAccount(prov.accountId), null);
      assert.deepEqual(await h.store.accounts.listUsers(prov.accountId), []);
    });
    assert.deepEqual(
      scans.filter((s) => GROWING.has(s.collection)),
      [],
    );
    // Nor any other collection but the transient ones the lifecycle allows (credential_closes, talkdesk_checks...).
    for (const s of scans) {
      assert.ok(TRANSIENT_ALLOWED.has(s.collection), `unexpected filter on ${s.collection}: ${JSON.stringify(s.filter)}`);
    }
  });

  it('the check bites: a read by installation is seen', async () => {
    const { scans } = await scansDuring(async () => {
      await h.db.collection(COLLECTIONS.credentials).findOne({ installationId: 'x' });
      await h.db.collection(COLLECTIONS.credentials).findOne({ _id: 'x' as never });
      await h.db.collection(COLLECTIONS.credentials).updateOne({ _id: 'x', status: 'active' } as never, { $set: { a: 1 } });
    });
    assert.deepEqual(
      scans.map((s) => `${s.collection} ${s.command}`),
      [`${COLLECTIONS.credentials} find`, `${COLLECTIONS.credentials} update`],
    );
  });
});
