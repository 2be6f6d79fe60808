import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { CommandStartedEvent } from 'mongodb';
import { createActivities } from '../../activities';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { extractCredentials, parseEvent, toLifecycleEvent } from '../../src/events/schemas';
import { createLogger } from '../../src/logging/logger';
import { startSimulator, type Simulator } from '../../src/simulator';
import { COLLECTIONS, connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { workflowIdFor } from '../../workflows/definitions';
import { mongoUri, uniqueDbName } from '../support/servers';

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
 * `event_credentials`: it deletes copies never imported, by installation).
 */
const TRANSIENT_ALLOWED = new Map<string, number>([
  [COLLECTIONS.licensedUsersProgress, 1],
  [COLLECTIONS.eventCredentials, 1],
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

function monitored(uri: string): string {
  return `${uri}${uri.includes('?') ? '&' : uri.endsWith('/') ? '?' : '/?'}monitorCommands=true`;
}

describe('install path: store commands are exact {_id} reads and writes (FerretDB, simulator, activities in-process)', function () {
  this.timeout(120_000);
  let db: Database;
  let store: Store;
  const keyring = parseKeyring(generateKeySpec('cmds1'));
  let simulator: Simulator;
  let acts: ReturnType<typeof createActivities>;
  const env = new MockActivityEnvironment();
  /** One activity run as the worker runs it (heartbeats and cancellation), typed by the activity. */
  const run = <A, R>(fn: (input: A) => Promise<R>, input: A): Promise<R> => env.run(fn as never, input as never) as Promise<R>;

  before(async () => {
    db = await connectDatabase(monitored(await mongoUri()), uniqueDbName('cmds'));
    store = createStore(db, keyring);
    await store.prepare(); // as every process does at start
    simulator = await startSimulator({ appId: 'app-cmds', webhookSecret: 'secret-cmds' });
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${simulator.port}`], timeoutMs: 5_000 });
    acts = createActivities({ store, talkdesk, logger: createLogger({ level: 'silent' }) });
  });
  after(async () => {
    await simulator?.stop();
    if (db) {
      await db.db.dropDatabase();
      await db.close();
    }
  });

  /** What the callback stores for an event: the inbox record and its credentials apart. */
  async function storeEvent(raw: unknown) {
    const parsed = parseEvent(JSON.parse(JSON.stringify(raw)));
    assert.ok(parsed.ok);
    const lifecycle = toLifecycleEvent(parsed.event);
    const creds = extractCredentials(parsed.event);
    await store.inbox.insert(
      {
        _id: parsed.event.id,
        installationId: lifecycle.installationId,
        type: parsed.event.type,
        createdAt: new Date(parsed.event.created_at),
        receivedAt: new Date(),
        event: lifecycle,
      },
      creds ? sealEventCredentials(keyring, lifecycle.installationId, creds) : undefined,
      { queue: false },
    );
    return lifecycle;
  }

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
    db.client.on('commandStarted', listener);
    try {
      await fn();
    } finally {
      db.client.off('commandStarted', listener);
    }
    return { scans, commands };
  }

  /** Install, update, rotation, trial and uninstall of one installation, in the workflow's order. */
  async function lifecycle(): Promise<{ installationId: string; accountId: string }> {
    const { installation, event } = simulator.createInstallation({ licensedUsers: 3 });
    const installationId = installation.id;
    const installed = await storeEvent(event);
    const base = { installationId, workflowId: workflowIdFor(installationId), appId: simulator.appId, links: installed.links };
    // Install.
    await run(acts.recordInstallation, { ...base, phase: 'installing', lastEventAt: installed.createdAt });
    const creds = await run(acts.importCredentials, { installationId, eventId: event.id, activate: true });
    const ref = { installationId, appId: simulator.appId, clientId: creds.clientId, rootUrl: event._links.root.href };
    const prov = await run(acts.provisionAccount, {
      ...ref,
      accountName: installation.accountName ?? '',
      eventId: event.id,
      occurredAt: installed.createdAt,
    });
    await run(acts.setInstallationState, { ...ref, state: 'approve', concludes: 'install' });
    await run(acts.recordInstallation, { ...base, phase: 'active', accountId: prov.accountId, activeClientId: creds.clientId });
    // Update: a user added, one removed.
    const removing = (await store.accounts.listUsers(prov.accountId)).find((u) => u.role !== 'admin')?.talkdeskUserId;
    assert.ok(removing);
    const updated = simulator.updateUsers(installationId, { add: 1, remove: [removing] });
    await storeEvent(updated);
    await run(acts.recordInstallation, { ...base, phase: 'updating', accountId: prov.accountId, activeClientId: creds.clientId });
    const data = updated.data as { users?: { adding: string[]; removing: string[] } };
    const applied = await run(acts.applyUpdate, {
      ...ref,
      accountId: prov.accountId,
      usersAdding: data.users?.adding ?? [],
      usersRemoving: data.users?.removing ?? [],
      eventId: updated.id,
    });
    assert.deepEqual(applied.usersDeactivated, [removing]);
    await run(acts.setInstallationState, { ...ref, state: 'approve', concludes: 'update' });
    await run(acts.recordInstallation, { ...base, phase: 'active', accountId: prov.accountId, activeClientId: creds.clientId });
    // Rotation.
    const rotated = simulator.rotateCredentials(installationId);
    await storeEvent(rotated);
    const next = await run(acts.importCredentials, { installationId, eventId: rotated.id, activate: false });
    await run(acts.obtainToken, { installationId, clientId: next.clientId });
    await run(acts.switchCredentials, {
      installationId,
      clientId: next.clientId,
      previousClientId: creds.clientId,
      retireAt: new Date(Date.now() + 86_400_000).toISOString(),
      destroyPreviousNow: false,
    });
    await run(acts.recordInstallation, { ...base, phase: 'active', accountId: prov.accountId, activeClientId: next.clientId });
    // Trial.
    await run(acts.recordTrial, {
      installationId,
      accountId: prov.accountId,
      trial: { startedAt: new Date().toISOString() },
      eventId: `trial-${installationId}`,
    });
    // Uninstall.
    await run(acts.deprovisionAccount, { installationId, accountId: prov.accountId, eventId: `uninstall-${installationId}` });
    await run(acts.destroyCredentials, { installationId });
    await run(acts.recordInstallation, { ...base, phase: 'uninstalled', accountId: prov.accountId });
    return { installationId, accountId: prov.accountId };
  }

  it('with other installations stored, the lifecycle sends no filter but an exact {_id} to growing collections', async () => {
    // Other installations' documents: two complete lifecycles and one left active.
    await lifecycle();
    await lifecycle();
    const { installation, event } = simulator.createInstallation();
    await storeEvent(event);
    await run(acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });

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
    const sets = await store.credentials.list(ids.installationId);
    assert.equal(sets.length, 2);
    assert.ok(sets.every((s) => s.status === 'destroyed' && !s.secret));
    assert.equal((await store.accounts.getAccount(ids.accountId))?.status, 'disabled');
    const users = await store.accounts.listUsers(ids.accountId);
    assert.equal(users.length, 4, 'three users mapped at install, one added by the update');
    assert.ok(users.every((u) => !u.active));
    assert.equal(await db.collection(COLLECTIONS.tokens).countDocuments({ installationId: ids.installationId }), 0);
  });

  it('the check bites: a read by installation is seen', async () => {
    const { scans } = await scansDuring(async () => {
      await db.collection(COLLECTIONS.credentials).findOne({ installationId: 'x' });
      await db.collection(COLLECTIONS.credentials).findOne({ _id: 'x' as never });
      await db.collection(COLLECTIONS.credentials).updateOne({ _id: 'x', status: 'active' } as never, { $set: { a: 1 } });
    });
    assert.deepEqual(
      scans.map((s) => `${s.collection} ${s.command}`),
      [`${COLLECTIONS.credentials} find`, `${COLLECTIONS.credentials} update`],
    );
  });
});
