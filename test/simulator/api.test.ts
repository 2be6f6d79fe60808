import assert from 'node:assert/strict';
import type { Simulator } from '../../src/simulator';
import { api, APP_ID, getToken, instPath, useSimulator } from './helpers';

describe('simulator bearer API', () => {
  let sim: Simulator;
  useSimulator((s) => (sim = s));

  it('401 without a token, with an unknown token and with an expired one', async () => {
    const { event } = sim.createInstallation();
    const none = await api(sim, undefined, 'GET', '/account');
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'unauthorized');
    assert.equal(typeof none.body.message, 'string');
    assert.equal((await api(sim, 'made-up', 'GET', '/account')).status, 401);
    const token = await getToken(sim, event.data);
    assert.equal((await api(sim, token, 'GET', '/account')).status, 200);
    sim.expireTokens(event.data.installation_id);
    const expired = await api(sim, token, 'GET', '/account');
    assert.equal(expired.status, 401);
    assert.match(expired.headers.get('www-authenticate') ?? '', /invalid_token/);
  });

  it("serves the account and users of the token's account", async () => {
    const { installation, event } = sim.createInstallation({ accountName: 'starship', licensedUsers: 2, unlicensedUsers: 1 });
    const token = await getToken(sim, event.data);
    const account = await api(sim, token, 'GET', '/account');
    assert.deepEqual(Object.keys(account.body).sort(), ['company_name', 'created_at', 'id', 'name', 'timezone']);
    assert.equal(account.body.name, 'starship');
    const users = await api(sim, token, 'GET', '/users');
    assert.equal(users.body.total, 3);
    const list = (users.body._embedded as { users: { id: string; email: string; name: string; active: boolean }[] }).users;
    assert.deepEqual(Object.keys(list[0] ?? {}).sort(), ['active', 'email', 'id', 'name']);
    const one = await api(sim, token, 'GET', `/users/${installation.licensedUserIds[0]}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, installation.licensedUserIds[0]);
    assert.equal((await api(sim, token, 'GET', '/users/unknown')).status, 404);
    const inst = await api(sim, token, 'GET', instPath(installation.id));
    assert.equal(inst.status, 200);
    assert.deepEqual(
      { id: inst.body.id, app_id: inst.body.app_id, account_id: inst.body.account_id, scopes: inst.body.scopes },
      {
        id: installation.id,
        app_id: APP_ID,
        account_id: installation.accountId,
        scopes: ['apps:read', 'apps:write', 'account:read', 'users:read'],
      },
    );
    assert.deepEqual((inst.body._embedded as { state: { state: string; reason: null } }).state.state, 'installing');
  });

  it("403 when the token lacks the route's scope", async () => {
    const { installation, event } = sim.createInstallation();
    const accountOnly = await getToken(sim, event.data, ['account:read']);
    assert.equal((await api(sim, accountOnly, 'GET', '/account')).status, 200);
    for (const path of ['/users', instPath(installation.id), `${instPath(installation.id)}/users`]) {
      const r = await api(sim, accountOnly, 'GET', path);
      assert.equal(r.status, 403, path);
      assert.match(String(r.body.message), /scope/);
    }
    const readOnly = await getToken(sim, event.data, ['apps:read']);
    const write = await api(sim, readOnly, 'POST', `${instPath(installation.id)}/state`, '{"state":"approve"}');
    assert.equal(write.status, 403);
    assert.match(String(write.body.error), /apps:write/);
    assert.equal(sim.getInstallation(installation.id)?.state, 'installing');
  });

  it('403 across installations and accounts, 404 for unknown ones', async () => {
    const a = sim.createInstallation({ accountName: 'alpha' });
    const b = sim.createInstallation({ accountName: 'beta' });
    const tokenA = await getToken(sim, a.event.data);
    assert.equal((await api(sim, tokenA, 'GET', instPath(b.installation.id))).status, 403);
    assert.equal((await api(sim, tokenA, 'GET', `${instPath(b.installation.id)}/users`)).status, 403);
    const st = await api(sim, tokenA, 'POST', `${instPath(b.installation.id)}/state`, '{"state":"approve"}');
    assert.equal(st.status, 403);
    assert.equal(sim.getInstallation(b.installation.id)?.state, 'installing');
    assert.equal((await api(sim, tokenA, 'GET', `/users/${b.installation.licensedUserIds[0]}`)).status, 403);
    assert.equal((await api(sim, tokenA, 'GET', instPath('f'.repeat(32)))).status, 404);
    assert.equal((await api(sim, tokenA, 'GET', `/apps/other-app/installations/${a.installation.id}`)).status, 404);
    const nope = await api(sim, tokenA, 'GET', '/nope');
    assert.equal(nope.status, 404);
    assert.equal(nope.body.code, 'not_found');
    // Same account, other installation (a reinstall): still another installation.
    const a2 = sim.createInstallation({ accountName: 'alpha' });
    assert.equal((await api(sim, tokenA, 'GET', instPath(a2.installation.id))).status, 403);
  });

  it('pages licensed users with absolute next links', async () => {
    const { installation, event } = sim.createInstallation({ licensedUsers: 7, unlicensedUsers: 3 });
    const token = await getToken(sim, event.data);
    const seen: string[] = [];
    let next: string | undefined = `${instPath(installation.id)}/users?per_page=3`;
    let pages = 0;
    while (next) {
      const r = await api(sim, token, 'GET', next);
      assert.equal(r.status, 200);
      assert.equal(r.body.total, 7);
      assert.equal(r.body.per_page, 3);
      assert.equal(r.body.page, pages + 1);
      const links = r.body._links as { self: { href: string }; next?: { href: string } };
      assert.ok(links.self.href.startsWith(`${sim.url}/`));
      next = links.next?.href;
      if (next) assert.ok(next.startsWith(`${sim.url}/apps/`), next);
      seen.push(...(r.body._embedded as { users: { id: string }[] }).users.map((u) => u.id));
      pages += 1;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, installation.licensedUserIds);
    const all = await api(sim, token, 'GET', '/users?per_page=100');
    assert.equal(all.body.total, 10);
    assert.equal((all.body._links as { next?: unknown }).next, undefined);
    const beyond = await api(sim, token, 'GET', `${instPath(installation.id)}/users?page=9`);
    assert.deepEqual((beyond.body._embedded as { users: unknown[] }).users, []);
    for (const q of ['page=0', 'per_page=0', 'per_page=101', 'page=x']) {
      assert.equal((await api(sim, token, 'GET', `/users?${q}`)).status, 400, q);
    }
  });

  it('records every call in order with route, status and installation', async () => {
    const { installation, event } = sim.createInstallation();
    const token = await getToken(sim, event.data);
    await api(sim, token, 'GET', '/account');
    await api(sim, token, 'GET', `${instPath(installation.id)}/users?page=1`);
    await api(sim, undefined, 'GET', '/users');
    assert.deepEqual(
      sim.calls.map((c) => [c.route, c.method, c.status]),
      [
        ['token', 'POST', 200],
        ['account', 'GET', 200],
        ['licensedUsers', 'GET', 200],
        ['users', 'GET', 401],
      ],
    );
    assert.equal(sim.calls[2]?.path, `${instPath(installation.id)}/users`);
    assert.equal(sim.calls[2]?.query, 'page=1');
    assert.equal(sim.calls[1]?.installationId, installation.id);
    assert.ok(sim.calls[0]?.at instanceof Date);
  });
});
