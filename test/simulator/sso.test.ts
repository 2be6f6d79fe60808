import assert from 'node:assert/strict';
import type { Simulator } from '../../src/simulator';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { TalkdeskHttpError } from '../../src/talkdesk/errors';
import { postForm, signAssertion, start } from './helpers';

const REDIRECT = 'http://127.0.0.1:9/sso/callback';

describe('simulator sign-in: /oauth/authorize, the authorization_code grant, /users/me, user.logout', () => {
  let sim: Simulator;
  let client: TalkdeskClient;
  beforeEach(async () => {
    sim = await start();
    client = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${sim.port}`], timeoutMs: 3_000 });
  });
  afterEach(async () => {
    await sim.stop();
  });

  function installed() {
    const { installation, event } = sim.createInstallation({ licensedUsers: 2, unlicensedUsers: 1 });
    const users = sim.accountUsers(installation.id);
    return { installation, creds: event.data, users };
  }

  /** `via`: whose account's sign-in endpoint (a known client's or installation's; the client's own by default). */
  async function authorize(clientId: string, extra: Record<string, string> = {}, via = clientId): Promise<Response> {
    const u = new URL(sim.authorizeUrlFor(via));
    const params = {
      client_id: clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid',
      state: 'st-1',
      nonce: 'n-1',
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return fetch(u, { redirect: 'manual' });
  }

  async function code(clientId: string): Promise<string> {
    const res = await authorize(clientId);
    assert.equal(res.status, 302);
    const back = new URL(res.headers.get('location') ?? '');
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
    assert.equal(back.searchParams.get('state'), 'st-1');
    return back.searchParams.get('code') ?? '';
  }

  const exchange = (c: ReturnType<typeof installed>['creds'], authCode: string, basic = false, redirectUri = REDIRECT) =>
    client.exchangeAuthorizationCode({
      tokenUrl: sim.tokenUrlFor(c.client_id),
      clientId: c.client_id,
      code: authCode,
      redirectUri,
      auth: basic
        ? { method: 'client_secret_basic', clientSecret: c.client_secret }
        : { method: 'private_key_jwt', keyId: c.key_id, algorithm: c.key_algorithm, privateKey: c.private_key },
    });

  it('signs in the picked user: a code, then a token (assertion or Basic) that /users/me answers for', async () => {
    const { installation, creds, users } = installed();
    const [u1, u2] = users;
    assert.ok(u1 && u2);
    sim.signInAs(installation.id, u1.id);
    const token = await exchange(creds, await code(creds.client_id));
    assert.equal(token.scope, 'openid');
    const me = await client.getUserInfo(`${sim.url}/users/me`, token.accessToken);
    assert.deepEqual(me, { id: u1.id, sub: u1.id, name: u1.name, email: u1.email });

    sim.signInAs(installation.id, u2.id);
    const basic = await exchange(creds, await code(creds.client_id), true);
    assert.equal((await client.getUserInfo(`${sim.url}/users/me`, basic.accessToken)).id, u2.id);
    assert.ok(sim.issuedSecrets().includes(basic.accessToken), 'user tokens are listed as secrets');
  });

  it('a code is single use, bound to its client and redirect URI', async () => {
    const { installation, creds, users } = installed();
    sim.signInAs(installation.id, users[0]?.id ?? '');
    const c1 = await code(creds.client_id);
    await exchange(creds, c1);
    await assert.rejects(
      exchange(creds, c1),
      (e: unknown) => e instanceof TalkdeskHttpError && e.status === 400 && e.code === 'invalid_grant',
    );
    await assert.rejects(exchange(creds, await code(creds.client_id), false, 'http://127.0.0.1:9/elsewhere'), /invalid_grant/);
    const other = installed();
    await assert.rejects(exchange(other.creds, await code(creds.client_id)), /invalid_grant/);
  });

  it('refuses bad client authentication: wrong secret, both methods at once, a replayed assertion', async () => {
    const { installation, creds, users } = installed();
    sim.signInAs(installation.id, users[0]?.id ?? '');
    await assert.rejects(
      exchange({ ...creds, client_secret: 'wrong-secret' }, await code(creds.client_id), true),
      (e: unknown) => e instanceof TalkdeskHttpError && e.status === 401,
    );
    const assertion = await signAssertion(creds, sim.tokenUrlFor(creds.client_id));
    const form = (c: string) => ({
      grant_type: 'authorization_code',
      code: c,
      redirect_uri: REDIRECT,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    const both = await postForm(sim.tokenUrlFor(creds.client_id), form(await code(creds.client_id)), {
      authorization: `Basic ${Buffer.from(`${creds.client_id}:${creds.client_secret}`).toString('base64')}`,
    });
    assert.equal(both.status, 400);
    assert.equal((await postForm(sim.tokenUrlFor(creds.client_id), form(await code(creds.client_id)))).status, 200);
    const replay = await postForm(sim.tokenUrlFor(creds.client_id), form(await code(creds.client_id)));
    assert.equal(replay.status, 401);
    assert.match(String(replay.body.error_description), /jti/);
  });

  it('is strict about the form: redirect_uri repeated identically, no repeated parameter, a matching client_id, Basic as RFC 7235 reads it', async () => {
    const { installation, creds, users } = installed();
    sim.signInAs(installation.id, users[0]?.id ?? '');
    // Equivalent is not identical (RFC 6749 §4.1.3): the value sent at /oauth/authorize, as sent.
    const upper = 'HTTP://127.0.0.1:9/sso/callback';
    const codeFor = async (redirectUri: string) =>
      new URL((await authorize(creds.client_id, { redirect_uri: redirectUri })).headers.get('location') ?? '').searchParams.get('code') ??
      '';
    await assert.rejects(exchange(creds, await codeFor(upper), false, REDIRECT), /invalid_grant/);
    assert.ok((await exchange(creds, await codeFor(upper), false, upper)).accessToken);

    const twice = new URL(sim.authorizeUrlFor(creds.client_id));
    const params: [string, string][] = [
      ['client_id', creds.client_id],
      ['redirect_uri', REDIRECT],
      ['redirect_uri', 'http://127.0.0.1:9/other'],
      ['response_type', 'code'],
    ];
    for (const [k, v] of params) twice.searchParams.append(k, v);
    const page = await fetch(twice, { redirect: 'manual' });
    assert.equal(page.status, 400, 'a page, never a redirect to either address');
    assert.match(await page.text(), /redirect_uri is repeated/);

    const form = async (extra: Record<string, string>) => ({
      grant_type: 'authorization_code',
      code: await code(creds.client_id),
      redirect_uri: REDIRECT,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await signAssertion(creds, sim.tokenUrlFor(creds.client_id)),
      ...extra,
    });
    const other = installed();
    const mismatch = await postForm(sim.tokenUrlFor(creds.client_id), await form({ client_id: other.creds.client_id }));
    assert.equal(mismatch.status, 401);
    assert.equal(mismatch.body.error, 'invalid_client');

    const basicForm = async () => ({ grant_type: 'authorization_code', code: await code(creds.client_id), redirect_uri: REDIRECT });
    const lower = await postForm(sim.tokenUrlFor(creds.client_id), await basicForm(), {
      authorization: `basic ${Buffer.from(`${creds.client_id}:${encodeURIComponent(creds.client_secret)}`).toString('base64')}`,
    });
    assert.equal(lower.status, 200, 'the scheme name is case-insensitive');
    const malformed = await postForm(sim.tokenUrlFor(creds.client_id), await basicForm(), {
      authorization: `Basic ${Buffer.from(`${creds.client_id}:%E0%A4%A`).toString('base64')}`,
    });
    assert.equal(malformed.status, 401, 'a malformed escape fails the authentication');
  });

  it('once a redirect URL is registered, /oauth/authorize refuses any other with a page (no redirect)', async () => {
    const { installation, creds, users } = installed();
    sim.signInAs(installation.id, users[0]?.id ?? '');
    assert.equal((await authorize(creds.client_id, { redirect_uri: 'http://127.0.0.1:9/anything' })).status, 302, 'none registered: any');
    sim.registerRedirectUri(REDIRECT);
    const refused = await authorize(creds.client_id, { redirect_uri: 'http://127.0.0.1:9/sso/callback/' });
    assert.equal(refused.status, 400);
    assert.equal(refused.headers.get('location'), null);
    assert.match(await refused.text(), /not a registered redirect URL/);
    assert.ok(await code(creds.client_id), 'the registered one is taken');
  });

  it('/users/me needs scope openid; a client-credentials token has no user', async () => {
    const { installation, creds, users } = installed();
    sim.signInAs(installation.id, users[0]?.id ?? '');
    const res = await authorize(creds.client_id, { scope: '' });
    const noScope = await exchange(creds, new URL(res.headers.get('location') ?? '').searchParams.get('code') ?? '');
    // None requested: the client's granted scopes, which do not include openid.
    assert.deepEqual([...noScope.scopes].sort(), [...installation.scopes].sort());
    await assert.rejects(
      client.getUserInfo(`${sim.url}/users/me`, noScope.accessToken),
      (e: unknown) => e instanceof TalkdeskHttpError && e.status === 403,
    );
    const cc = await client.requestToken({
      tokenUrl: sim.tokenUrlFor(creds.client_id),
      clientId: creds.client_id,
      keyId: creds.key_id,
      algorithm: creds.key_algorithm,
      privateKey: creds.private_key,
    });
    await assert.rejects(
      client.getUserInfo(`${sim.url}/users/me`, cc.accessToken),
      // Documented: 400 "no user context" (talkdesk-sso.md §3), not the 401 of an unknown token.
      (e: unknown) => e instanceof TalkdeskHttpError && e.status === 400,
    );
    await assert.rejects(
      client.getUserInfo(`${sim.url}/users/me`, 'not-a-token'),
      (e: unknown) => e instanceof TalkdeskHttpError && e.status === 401,
    );
  });

  it('without a picked user shows a page to pick one; an unknown client gets a page, never a redirect; an OAuth error goes back with state', async () => {
    const { creds, users } = installed();
    const pick = await authorize(creds.client_id);
    assert.equal(pick.status, 200);
    const html = await pick.text();
    for (const u of users) assert.ok(html.includes(u.name));
    assert.match(html, /not licensed/);
    const link = /href="([^"]+)"/.exec(html)?.[1]?.replace(/&#38;/g, '&') ?? '';
    // A user_id the request names itself picks nobody (Talkdesk takes no hint): the page again.
    const hinted = new URL(link, sim.url);
    hinted.searchParams.delete('sim_pick');
    assert.equal((await fetch(hinted, { redirect: 'manual' })).status, 200);
    const chosen = await fetch(`${sim.url}${link}`, { redirect: 'manual' });
    assert.equal(chosen.status, 302);
    assert.ok(new URL(chosen.headers.get('location') ?? '').searchParams.get('code'));
    assert.equal((await fetch(`${sim.url}${link}`, { redirect: 'manual' })).status, 302, 'the picked user is signed in from then on');

    const unknown = await authorize('f'.repeat(32), {}, creds.client_id);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.headers.get('location'), null);
    // A client of another account at this account's endpoint: a page too (each account signs in its own users).
    const elsewhere = await authorize(installed().creds.client_id, {}, creds.client_id);
    assert.equal(elsewhere.status, 400);
    assert.match(await elsewhere.text(), /not of this account/);
    assert.equal(elsewhere.headers.get('location'), null);

    sim.denyNextAuthorization('access_denied');
    const denied = new URL((await authorize(creds.client_id)).headers.get('location') ?? '');
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('state'), 'st-1');
    assert.equal(denied.searchParams.get('code'), null);
  });

  it('builds user.logout without app_version fields, with the user link', () => {
    const { installation, users } = installed();
    const u = users[0];
    assert.ok(u);
    const e = sim.userLogout(installation.id, u.id);
    assert.equal(e.type, 'user.logout');
    assert.deepEqual(Object.keys(e).sort(), ['_links', 'api_version', 'app_id', 'created_at', 'data', 'id', 'type']);
    assert.deepEqual(e.data, { account_id: installation.accountId, user_id: u.id, user_email: u.email, installation_id: installation.id });
    assert.equal(e._links.user.href, `${sim.url}/users/${u.id}`);
  });
});
