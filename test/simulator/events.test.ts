import assert from 'node:assert/strict';
import type { Simulator } from '../../src/simulator';
import { APP_ID, instPath, useSimulator } from './helpers';

const SEED_ENVELOPE_KEYS = ['id', 'created_at', 'api_version', 'type', 'app_id', 'app_version_id', 'app_version_name', 'data', '_links'];
const SEED_DATA_KEYS = [
  'installation_id',
  'account_id',
  'account_name',
  'client_id',
  'client_secret',
  'private_key',
  'public_key',
  'key_id',
  'key_algorithm',
];
const SEED_LINK_KEYS = ['root', 'self', 'userinfo', 'authorization', 'tokens', 'installation', 'widget_url'];

describe('simulator lifecycle events', () => {
  let sim: Simulator;
  useSimulator((s) => (sim = s));

  it('builds app.installed exactly like the seed, with links at the simulator', () => {
    const { installation, event } = sim.createInstallation({ accountName: 'starship', algorithm: 'PS256' });
    assert.deepEqual(Object.keys(event), SEED_ENVELOPE_KEYS);
    assert.deepEqual(Object.keys(event.data), SEED_DATA_KEYS);
    assert.deepEqual(Object.keys(event._links), SEED_LINK_KEYS);
    assert.equal(event.api_version, '1');
    assert.equal(event.type, 'app.installed');
    assert.equal(event.app_id, APP_ID);
    assert.match(event.id, /^[0-9a-f]{32}$/);
    assert.match(event.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(event.data.installation_id, installation.id);
    assert.equal(event.data.account_name, 'starship');
    assert.equal(event.data.key_algorithm, 'PS256');
    assert.equal(event._links.root.href, sim.url);
    // Per account, as Talkdesk's (https://{account}.talkdeskid.com/oauth/token): not at the API root.
    assert.equal(event._links.tokens.href, `${sim.url}/accounts/${installation.accountId}/oauth/token`);
    assert.equal(event._links.authorization?.href, `${sim.url}/accounts/${installation.accountId}/oauth/authorize`);
    assert.equal(event._links.installation.href, `${sim.url}${instPath(installation.id)}`);
    assert.equal(installation.state, 'installing');
    assert.equal(installation.licensedUserIds.length, 3);
  });

  it('accepts an id / created_at override and reuses an account on reinstall', () => {
    const first = sim.createInstallation({ accountName: 'reuse' }, { id: 'evt-1', createdAt: new Date('2020-01-02T03:04:05.678Z') });
    assert.equal(first.event.id, 'evt-1');
    assert.equal(first.event.created_at, '2020-01-02T03:04:05Z');
    const again = sim.createInstallation({ accountName: 'reuse' });
    assert.equal(again.event.data.account_id, first.event.data.account_id);
    assert.notEqual(again.event.data.installation_id, first.event.data.installation_id);
    assert.notEqual(again.event.data.client_id, first.event.data.client_id);
  });

  it('app.updated carries only what changed and moves the installation to pending', () => {
    const { installation } = sim.createInstallation({ licensedUsers: 2 });
    const removed = installation.licensedUserIds[0] ?? '';
    const users = sim.updateUsers(installation.id, { add: 2, remove: [removed] });
    assert.equal(users.type, 'app.updated');
    assert.deepEqual(Object.keys(users._links), ['root', 'self']);
    assert.equal(users.data.subscription, undefined);
    assert.equal(users.data.users?.adding.length, 2);
    assert.deepEqual(users.data.users?.removing, [removed]);
    assert.ok(!('client_secret' in users.data));
    const view = sim.getInstallation(installation.id);
    assert.equal(view?.state, 'pending');
    assert.equal(view?.pendingOperation, 'update');
    assert.deepEqual(view?.licensedUserIds, [installation.licensedUserIds[1], ...(users.data.users?.adding ?? [])]);

    const sub = sim.updateSubscription(installation.id, { name: 'pro', licenses: 10 });
    assert.equal(sub.data.users, undefined);
    assert.deepEqual(sub.data.subscription, { adding: { name: 'pro', licenses: 10 } });
    const sub2 = sim.updateSubscription(installation.id, { name: 'enterprise', licenses: 50 });
    assert.deepEqual(sub2.data.subscription, { adding: { name: 'enterprise', licenses: 50 }, removing: { name: 'pro', licenses: 10 } });
    assert.throws(() => sim.updateUsers(installation.id, { remove: ['nobody'] }), /not licensed/);
  });

  it('app.updated can give a licence back to a user of the account (removed earlier, or never licensed), only to such a user', () => {
    const { installation } = sim.createInstallation({ licensedUsers: 2 });
    const [kept, removed] = installation.licensedUserIds;
    assert.ok(kept && removed);
    sim.updateUsers(installation.id, { remove: [removed] });
    const back = sim.updateUsers(installation.id, { add: [removed] });
    assert.deepEqual(back.data.users, { adding: [removed], removing: [] });
    assert.deepEqual(sim.getInstallation(installation.id)?.licensedUserIds, [kept, removed]);
    const other = sim.createInstallation({ licensedUsers: 1 });
    const foreign = other.installation.licensedUserIds[0] ?? '';
    assert.throws(() => sim.updateUsers(installation.id, { add: [foreign] }), /not a user of account/);
    assert.throws(() => sim.updateUsers(installation.id, { add: [kept] }), /licensed to installation .* already/);
    assert.throws(() => sim.updateUsers(installation.id, { add: ['nobody'] }), /not a user of account/);
  });

  it('a call it refuses changes nothing: an update with bad licences, a trial end Talkdesk would not send', () => {
    const { installation } = sim.createInstallation({ licensedUsers: 2 });
    const before = sim.getInstallation(installation.id);
    const [first] = before?.licensedUserIds ?? [];
    assert.ok(first);
    assert.throws(
      () => sim.updateInstallation(installation.id, { addUsers: 1, removeUsers: [first], subscription: { name: 'pro', licenses: -1 } }),
      /licenses must be a non-negative integer/,
    );
    assert.deepEqual(sim.getInstallation(installation.id), before, 'users, subscription and state as they were');
    sim.startTrial(installation.id, new Date('2030-01-01T00:00:00Z'));
    assert.throws(() => sim.endTrial(installation.id, { reason: 'bored' as never, by: 'user' }), /ended reason must be one of/);
    assert.throws(() => sim.endTrial(installation.id, { reason: 'plan_upgraded', by: 'robot' as never }), /ended by must be one of/);
    assert.equal(sim.getInstallation(installation.id)?.trial?.endedAt ?? null, null, 'the trial is not ended');
  });

  it('app.credentials_rotated issues a new client; compromised revokes the old one; the flag is sent only when asked', () => {
    const { installation, event } = sim.createInstallation({ algorithm: 'ES384' });
    const routine = sim.rotateCredentials(installation.id);
    assert.equal(routine.type, 'app.credentials_rotated');
    assert.ok(!('compromised' in routine.data), 'the documented event: no compromised flag');
    // Nor the installation or account: the documented data is the new credentials (routed by _links.installation).
    for (const field of ['installation_id', 'account_id', 'account_name']) assert.ok(!(field in routine.data), field);
    assert.equal(routine._links.installation.href.endsWith(`/installations/${installation.id}`), true);
    assert.equal(routine.data.key_algorithm, 'ES384');
    assert.notEqual(routine.data.client_id, event.data.client_id);
    assert.equal(sim.getClient(event.data.client_id)?.valid, true);
    assert.ok(sim.getClient(event.data.client_id)?.validUntil);
    const bad = sim.rotateCredentials(installation.id, { compromised: true, algorithm: 'PS512' });
    assert.equal(bad.data.compromised, true);
    assert.equal(bad.data.key_algorithm, 'PS512');
    assert.equal(sim.getClient(event.data.client_id)?.valid, false);
    assert.equal(sim.getClient(routine.data.client_id)?.valid, false);
    assert.equal(sim.getClient(bad.data.client_id)?.valid, true);
    assert.deepEqual(sim.getInstallation(installation.id)?.clientIds, [event.data.client_id, routine.data.client_id, bad.data.client_id]);
    assert.equal(sim.rotateCredentials(installation.id, { compromised: false }).data.compromised, false);
    // A compromised rotation as Talkdesk documents it: the old sets revoked, no flag.
    const unflagged = sim.rotateCredentials(installation.id, { compromised: true, flagged: false });
    assert.ok(!('compromised' in unflagged.data));
    assert.equal(sim.getClient(bad.data.client_id)?.valid, false);
    assert.equal(sim.rotateCredentials(installation.id, { withIds: true }).data.installation_id, installation.id, 'ids when asked');
  });

  it('app.uninstalled and trial events', () => {
    const { installation } = sim.createInstallation({ accountName: 'gone' });
    const trial = sim.startTrial(installation.id, new Date('2030-01-01T00:00:00Z'));
    assert.deepEqual(trial.data, {
      installation_id: installation.id,
      account_id: installation.accountId,
      expires_at: '2030-01-01T00:00:00Z',
    });
    assert.deepEqual(Object.keys(trial._links).sort(), ['installation', 'root', 'self']);
    const ended = sim.endTrial(installation.id, { reason: 'plan_upgraded', by: 'user', endedAt: new Date('2029-06-01T10:00:00Z') });
    assert.equal(ended.data.ended_reason, 'plan_upgraded');
    assert.equal(ended.data.ended_by, 'user');
    assert.equal(ended.data.ended_at, '2029-06-01T10:00:00Z');
    assert.equal(ended.data.expires_at, '2030-01-01T00:00:00Z');

    const un = sim.uninstall(installation.id, { type: 'user_request', message: 'bye' });
    assert.equal(un.type, 'app.uninstalled');
    assert.deepEqual(un.data.reason, { type: 'user_request', message: 'bye' });
    assert.equal(un.data.account_name, 'gone');
    assert.equal(un._links.installation.href, `${sim.url}${instPath(installation.id)}`);
    assert.equal(sim.getInstallation(installation.id)?.pendingOperation, 'uninstall');
  });

  it('every event gets a fresh id', () => {
    const { installation, event } = sim.createInstallation();
    const ids = new Set([
      event.id,
      sim.updateUsers(installation.id, { add: 1 }).id,
      sim.rotateCredentials(installation.id).id,
      sim.uninstall(installation.id).id,
    ]);
    assert.equal(ids.size, 4);
  });
});
