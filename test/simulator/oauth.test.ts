import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { generateInstallationKeys, KEY_ALGORITHMS, type Simulator } from '../../src/simulator';
import { api, getToken, pemOf, postForm, signAssertion, tokenForm, useSimulator } from './helpers';

describe('simulator token endpoint', () => {
  let sim: Simulator;
  const restart = useSimulator((s) => (sim = s), { tokenTtlSeconds: 600 });

  const creds = (alg: (typeof KEY_ALGORITHMS)[number] = 'ES256') => sim.createInstallation({ algorithm: alg }).event.data;

  for (const alg of KEY_ALGORITHMS) {
    it(`grants a token for a ${alg} client assertion and the token works`, async () => {
      const c = creds(alg);
      const r = await postForm(sim.tokenUrlFor(c.client_id), tokenForm(await signAssertion(c, sim.tokenUrlFor(c.client_id))));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.token_type, 'Bearer');
      assert.equal(r.body.expires_in, 600);
      assert.equal(r.body.scope, 'apps:read apps:write account:read users:read');
      assert.equal(typeof r.body.access_token, 'string');
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const account = await api(sim, String(r.body.access_token), 'GET', '/account');
      assert.equal(account.status, 200);
      assert.equal(account.body.id, sim.getInstallation(c.installation_id)?.accountId);
      const call = sim.calls.find((x) => x.route === 'token');
      assert.equal(call?.status, 200);
      assert.equal(call?.installationId, c.installation_id);
      assert.equal(call?.body, undefined, 'token request bodies are never recorded');
    });
  }

  describe('rejects a bad assertion with 401 invalid_client', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const cases: [string, (c: ReturnType<typeof creds>, aud: string) => Promise<string>, RegExp][] = [
      ['wrong kid', (c, aud) => signAssertion(c, aud, { kid: 'f'.repeat(32) }), /kid/],
      [
        'wrong alg (an ES384 key for an ES256 client)',
        (c, aud) => signAssertion(c, aud, { alg: 'ES384', keyAlg: 'ES384', privateKey: generateInstallationKeys('ES384').private_key }),
        /alg must be ES256/,
      ],
      ['wrong aud', (c, aud) => signAssertion(c, `${aud}/`, {}), /aud/],
      ['aud as an array', (c, aud) => signAssertion(c, aud, { aud: [aud] }), /aud/],
      ['expired', (c, aud) => signAssertion(c, aud, { iat: now() - 400, exp: now() - 100 }), /expired/],
      ['lifetime over 300 s', (c, aud) => signAssertion(c, aud, { exp: now() + 3600 }), /300/],
      [
        'lifetime of 305 s (within the clock skew, which does not apply to exp - iat)',
        (c, aud) => signAssertion(c, aud, { iat: now(), exp: now() + 305 }),
        /300/,
      ],
      ['iat in the future', (c, aud) => signAssertion(c, aud, { iat: now() + 120, exp: now() + 300 }), /iat/],
      ['missing jti', (c, aud) => signAssertion(c, aud, { jti: null }), /jti/],
      ['jti not a UUID', (c, aud) => signAssertion(c, aud, { jti: 'request-1' }), /jti must be a UUID/],
      ['iss differs from sub', (c, aud) => signAssertion(c, aud, { sub: 'someone-else' }), /iss and sub/],
      ['wrong key', (c, aud) => signAssertion(c, aud, { privateKey: generateInstallationKeys('ES256').private_key }), /signature/],
      ['unknown client', (c, aud) => signAssertion(c, aud, { iss: 'a'.repeat(32), sub: 'a'.repeat(32) }), /unknown client/],
      ['not a JWT', () => Promise.resolve('not.a.jwt'), /well-formed/],
    ];
    for (const [name, make, description] of cases) {
      it(name, async () => {
        const c = creds();
        const r = await postForm(sim.tokenUrlFor(c.client_id), tokenForm(await make(c, sim.tokenUrlFor(c.client_id))));
        assert.equal(r.status, 401, r.text);
        assert.equal(r.body.error, 'invalid_client');
        assert.match(String(r.body.error_description), description);
        assert.equal(r.body.access_token, undefined);
      });
    }

    it('replayed jti', async () => {
      const c = creds();
      const assertion = await signAssertion(c, sim.tokenUrlFor(c.client_id));
      assert.equal((await postForm(sim.tokenUrlFor(c.client_id), tokenForm(assertion))).status, 200);
      const replay = await postForm(sim.tokenUrlFor(c.client_id), tokenForm(assertion));
      assert.equal(replay.status, 401);
      assert.match(String(replay.body.error_description), /jti/);
      // Same jti in a freshly signed assertion is still a replay.
      const FIXED_JTI = randomUUID();
      const again = await postForm(
        sim.tokenUrlFor(c.client_id),
        tokenForm(await signAssertion(c, sim.tokenUrlFor(c.client_id), { jti: FIXED_JTI })),
      );
      assert.equal(again.status, 200);
      const sameJti = await postForm(
        sim.tokenUrlFor(c.client_id),
        tokenForm(await signAssertion(c, sim.tokenUrlFor(c.client_id), { jti: FIXED_JTI })),
      );
      assert.equal(sameJti.status, 401);
      assert.match(String(sameJti.body.error_description), /already used/);
    });

    it('wrong alg with the client own key (PS256 client signs PS384)', async () => {
      const c = creds('PS256');
      const r = await postForm(
        sim.tokenUrlFor(c.client_id),
        tokenForm(await signAssertion(c, sim.tokenUrlFor(c.client_id), { alg: 'PS384' })),
      );
      assert.equal(r.status, 401);
      assert.match(String(r.body.error_description), /alg must be PS256/);
    });
  });

  describe('request strictness', () => {
    it('400 invalid_request for JSON, missing fields, repeated fields, wrong assertion type, Basic auth or client_secret', async () => {
      const c = creds();
      const good = tokenForm(await signAssertion(c, sim.tokenUrlFor(c.client_id)));
      const asJson = await fetch(sim.tokenUrlFor(c.client_id), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(good),
      });
      assert.equal(asJson.status, 400);
      assert.equal(((await asJson.json()) as { error: string }).error, 'invalid_request');

      const { client_assertion: _omit, ...noAssertion } = good;
      assert.equal((await postForm(sim.tokenUrlFor(c.client_id), noAssertion)).body.error, 'invalid_request');
      const repeated = await fetch(sim.tokenUrlFor(c.client_id), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `${new URLSearchParams(good).toString()}&grant_type=client_credentials`,
      });
      assert.equal(repeated.status, 400);
      assert.equal((await postForm(sim.tokenUrlFor(c.client_id), { ...good, client_assertion_type: 'jwt' })).body.error, 'invalid_request');
      assert.equal(
        (await postForm(sim.tokenUrlFor(c.client_id), { ...good, client_secret: c.client_secret })).body.error,
        'invalid_request',
      );
      const basic = await postForm(sim.tokenUrlFor(c.client_id), good, {
        authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`,
      });
      assert.equal(basic.status, 400);
      const grant = await postForm(sim.tokenUrlFor(c.client_id), { ...good, grant_type: 'password' });
      assert.equal(grant.status, 400);
      assert.equal(grant.body.error, 'unsupported_grant_type');
      // None of these consumed the assertion's jti: it still works.
      assert.equal((await postForm(sim.tokenUrlFor(c.client_id), good)).status, 200);
    });

    it('scope must be a space-separated subset of the granted scopes', async () => {
      const c = sim.createInstallation({ scopes: ['apps:read', 'apps:write'] }).event.data;
      const ask = async (scope?: string) =>
        postForm(sim.tokenUrlFor(c.client_id), tokenForm(await signAssertion(c, sim.tokenUrlFor(c.client_id)), scope));
      const narrowed = await ask('apps:write');
      assert.equal(narrowed.status, 200);
      assert.equal(narrowed.body.scope, 'apps:write');
      assert.equal((await ask()).body.scope, 'apps:read apps:write');
      for (const bad of ['users:read', 'apps:read  apps:write', 'apps:read,apps:write', '', 'admin']) {
        const r = await ask(bad);
        assert.equal(r.status, 400, `scope "${bad}"`);
        assert.equal(r.body.error, 'invalid_scope');
      }
    });
  });

  describe('rotation', () => {
    it('routine rotation keeps the old client valid; compromised revokes it and its tokens at once', async () => {
      const { installation, event } = sim.createInstallation();
      const oldToken = await getToken(sim, event.data);
      const routine = sim.rotateCredentials(installation.id);
      assert.equal(
        (
          await postForm(
            sim.tokenUrlFor(event.data.client_id),
            tokenForm(await signAssertion(event.data, sim.tokenUrlFor(event.data.client_id))),
          )
        ).status,
        200,
      );
      assert.equal((await api(sim, oldToken, 'GET', '/account')).status, 200);
      assert.ok(await getToken(sim, routine.data));

      const compromised = sim.rotateCredentials(installation.id, { compromised: true });
      const old = await postForm(
        sim.tokenUrlFor(event.data.client_id),
        tokenForm(await signAssertion(event.data, sim.tokenUrlFor(event.data.client_id))),
      );
      assert.equal(old.status, 401);
      assert.match(String(old.body.error_description), /revoked/);
      assert.equal((await api(sim, oldToken, 'GET', '/account')).status, 401);
      assert.ok(await getToken(sim, compromised.data));
    });

    it("the grace period runs from the rotation's created_at, not from when the event was made (a rotation delivered late)", async () => {
      const { installation, event } = sim.createInstallation();
      const day = 86_400_000;
      // Rotated seven days and a minute ago: Talkdesk no longer takes the old client, however late the event arrives.
      sim.rotateCredentials(installation.id, {}, { createdAt: new Date(Date.now() - 7 * day - 60_000).toISOString() });
      const r = await postForm(
        sim.tokenUrlFor(event.data.client_id),
        tokenForm(await signAssertion(event.data, sim.tokenUrlFor(event.data.client_id))),
      );
      assert.equal(r.status, 401);
      assert.match(String(r.body.error_description), /expired after rotation/);
    });

    it('the grace period ends', async () => {
      await restart({ rotationGraceSeconds: 0 });
      const { installation, event } = sim.createInstallation();
      sim.rotateCredentials(installation.id);
      const r = await postForm(
        sim.tokenUrlFor(event.data.client_id),
        tokenForm(await signAssertion(event.data, sim.tokenUrlFor(event.data.client_id))),
      );
      assert.equal(r.status, 401);
      assert.match(String(r.body.error_description), /expired after rotation/);
    });
  });

  it("refuses an assertion sent to another account's token URL, or one at the API root: each account has its own", async () => {
    const c = creds();
    const other = creds();
    const theirs = sim.tokenUrlFor(other.client_id);
    assert.notEqual(theirs, sim.tokenUrlFor(c.client_id));
    const wrong = await postForm(theirs, tokenForm(await signAssertion(c, theirs)));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    assert.match(String(wrong.body.error_description), /not of this account/);
    const audElsewhere = await postForm(sim.tokenUrlFor(c.client_id), tokenForm(await signAssertion(c, theirs)));
    assert.match(String(audElsewhere.body.error_description), /aud must be the token endpoint URL/);
    assert.equal((await postForm(`${sim.url}/oauth/token`, tokenForm(await signAssertion(c, `${sim.url}/oauth/token`)))).status, 404);
  });

  it('issuedSecrets lists client secrets, private keys (base64 and PEM), tokens and assertions', async () => {
    const c = creds('PS256');
    const assertion = await signAssertion(c, sim.tokenUrlFor(c.client_id));
    const r = await postForm(sim.tokenUrlFor(c.client_id), tokenForm(assertion));
    const secrets = sim.issuedSecrets();
    assert.ok(secrets.includes(c.client_secret));
    assert.ok(secrets.includes(c.private_key));
    assert.ok(secrets.includes(pemOf(c.private_key).trim()));
    assert.ok(secrets.includes(assertion));
    assert.ok(secrets.includes(String(r.body.access_token)));
    assert.ok(!secrets.includes(c.public_key));
  });
});
