import assert from 'node:assert/strict';
import { startSimulator, type Simulator } from '../../src/simulator';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { TalkdeskHttpError, TalkdeskUnavailableError } from '../../src/talkdesk/errors';
import { toActivityFailure } from '../../src/talkdesk/failures';

/**
 * The client against the team's Talkdesk simulator (strict JWT checks, scopes,
 * faults): the contract the activities rely on, end to end over loopback.
 */
describe('talkdesk/client against the simulator', () => {
  let sim: Simulator;
  let client: TalkdeskClient;

  before(async () => {
    sim = await startSimulator({ appId: 'f918e2623486417791f3b5a18ca746ce', webhookSecret: 'simulator-webhook-secret-0123456789' });
    client = new TalkdeskClient({ allowedHosts: [new URL(sim.url).host], timeoutMs: 5_000 });
  });
  after(() => sim.stop());
  afterEach(() => sim.clearFaults());

  function install(opts: Parameters<Simulator['createInstallation']>[0] = {}) {
    const { event } = sim.createInstallation(opts);
    const d = event.data;
    const tokenRequest = {
      tokenUrl: event._links.tokens.href,
      clientId: d.client_id,
      keyId: d.key_id,
      algorithm: d.key_algorithm,
      privateKey: d.private_key,
    };
    return { event, root: event._links.root.href, tokenRequest };
  }

  for (const algorithm of ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const) {
    it(`gets a token with a ${algorithm} assertion and reads the installation`, async () => {
      const { event, root, tokenRequest } = install({ algorithm });
      const token = await client.requestToken(tokenRequest);
      assert.equal(token.tokenType, 'Bearer');
      const inst = await client.getInstallation(root, event.app_id, event.data.installation_id, token.accessToken);
      assert.equal(inst.id, event.data.installation_id);
      assert.equal(inst.state.state, 'installing');
    });
  }

  it('runs the install conversation: account, licensed users across pages, approve', async () => {
    const { event, root, tokenRequest } = install({ licensedUsers: 45, unlicensedUsers: 1 });
    const { accessToken } = await client.requestToken({
      ...tokenRequest,
      scopes: ['apps:read', 'apps:write', 'account:read', 'users:read'],
    });
    const account = await client.getAccount(root, accessToken);
    assert.equal(account.name, event.data.account_name);

    const users = await client.listLicensedUsers(root, event.app_id, event.data.installation_id, accessToken);
    assert.equal(users.length, 45);
    assert.equal(new Set(users.map((u) => u.id)).size, 45);
    const first = users[0];
    assert.ok(first);
    assert.equal((await client.getUser(root, first.id, accessToken)).id, first.id);
    assert.equal((await client.listUsers(root, accessToken)).length, 46);

    const state = await client.setInstallationState(root, event.app_id, event.data.installation_id, accessToken, { state: 'approve' });
    assert.equal(state.state, 'completed');
  });

  it('acknowledges rotated credentials', async () => {
    const { event, root } = install();
    const rotated = sim.rotateCredentials(event.data.installation_id);
    const { accessToken } = await client.requestToken({
      tokenUrl: rotated._links.tokens.href,
      clientId: rotated.data.client_id,
      keyId: rotated.data.key_id,
      algorithm: rotated.data.key_algorithm,
      privateKey: rotated.data.private_key,
    });
    await client.acknowledgeCredentials(root, event.app_id, event.data.installation_id, rotated.data.client_id, accessToken);
    assert.equal(sim.credentialsStateCalls(event.data.installation_id).at(-1)?.status, 202);
  });

  it('maps a missing scope, a wrong key and injected faults', async () => {
    const { event, root, tokenRequest } = install({ scopes: ['apps:read'] });
    const { accessToken } = await client.requestToken(tokenRequest);
    const forbidden = await client.getAccount(root, accessToken).catch((e: unknown) => e);
    assert.ok(forbidden instanceof TalkdeskHttpError);
    assert.equal(forbidden.status, 403, 'a valid token without the scope: forbidden, not unauthenticated');

    const other = install();
    const invalid = await client.requestToken({ ...tokenRequest, privateKey: other.tokenRequest.privateKey }).catch((e: unknown) => e);
    assert.ok(invalid instanceof TalkdeskHttpError);
    assert.equal(invalid.status, 401, invalid.message);
    assert.equal(invalid.code, 'invalid_client');
    assert.equal(toActivityFailure(invalid).nonRetryable, true, invalid.message);

    sim.failNext('installation', 1, { status: 429, retryAfterSeconds: 3 });
    const limited = await client.getInstallation(root, event.app_id, event.data.installation_id, accessToken).catch((e: unknown) => e);
    assert.ok(limited instanceof TalkdeskHttpError);
    assert.equal(toActivityFailure(limited).nextRetryDelay, 3_000);

    sim.failNext('installation', 1, { drop: true });
    const dropped = await client.getInstallation(root, event.app_id, event.data.installation_id, accessToken).catch((e: unknown) => e);
    assert.ok(dropped instanceof TalkdeskUnavailableError);

    const leaks = sim.issuedSecrets();
    for (const err of [forbidden, invalid, limited, dropped]) {
      const text = `${JSON.stringify(err)} ${String(err)} ${JSON.stringify(toActivityFailure(err).details)}`;
      for (const secret of leaks) assert.ok(!text.includes(secret), 'an error carries an issued secret');
    }
  });
});
