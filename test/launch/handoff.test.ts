import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { MongoNetworkError } from 'mongodb';
import { generateSigningKeySpec, parseSigningKeys } from '../../src/sso/signing-keys';
import { verifyHandoffToken, MemorySeenTokenIds } from '../../src/sso/verify-handoff';
import { COLLECTIONS } from '../../src/store/db';
import { startSystem, type TestSystem } from '../support/system';
import { activeInstallation, launchUrl, partnerApp, ssoMetric, TestBrowser } from './helpers';

describe('launch: hand-off to the partner app with a signed identity token', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let partner: Awaited<ReturnType<typeof partnerApp>>;
  const keys = parseSigningKeys(`${generateSigningKeySpec('new')},${generateSigningKeySpec('old')}`);

  before(async () => {
    partner = await partnerApp();
    sys = await startSystem({ launch: { appHomeUrl: partner.url, signingKeys: keys } });
  });
  after(async () => {
    await sys?.close();
    await partner?.close();
  });

  it('publishes every signing key at /.well-known/jwks.json, public halves only', async () => {
    const res = await fetch(`${sys.web.url}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    const jwks = (await res.json()) as { keys: Record<string, string>[] };
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      ['new', 'old'],
    );
    for (const k of jwks.keys) {
      assert.equal(k.kty, 'EC');
      assert.equal(k.crv, 'P-256');
      assert.equal(k.alg, 'ES256');
      assert.equal(k.d, undefined, 'no private part');
    }
  });

  it('posts a token to APP_HOME_URL that a standard JWT library verifies, with the documented claims; a second use is refused', async () => {
    const { installation, event, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    await sys.store.accounts.accounts.updateOne({ _id: event.data.account_id }, { $set: { partnerAccountId: 'pa-42' } as never });
    await sys.store.accounts.users.updateOne({ _id: `${event.data.account_id}:${user.id}` }, { $set: { role: 'admin' } as never });
    sys.simulator.signInAs(installation.id, user.id);
    const browser = new TestBrowser();
    const { res, body, url } = await browser.open(launchUrl(sys, installation.id));
    assert.equal(res.status, 200);
    assert.ok(url.startsWith(`${sys.web.url}/sso/callback?`));
    assert.match(res.headers.get('content-security-policy') ?? '', new RegExp(`form-action ${new URL(partner.url).origin}`));
    assert.equal(browser.jar.has('appconnect_session'), false, 'no session of our own');
    assert.equal(await sys.store.db.db.collection(COLLECTIONS.sessions).countDocuments({ installationId: installation.id }), 0);

    // What the page's script does (run by Chromium in browser-handoff.test.ts): POST the form field `token` to APP_HOME_URL.
    const action = /<form id="handoff" method="post" action="([^"]+)"/.exec(body)?.[1];
    const field = /name="token" value="([^"]+)"/.exec(body)?.[1];
    assert.equal(action, partner.url);
    assert.ok(field);
    await browser.request(partner.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${field}`,
    });
    const token = new URLSearchParams(partner.posts.at(-1)).get('token') ?? '';
    assert.equal(token, field);
    assert.ok(!browser.hops.some((h) => h.url.includes(token) || (h.location ?? '').includes(token)), 'never in a URL');

    const audience = new URL(partner.url).origin;
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(`${sys.web.url}/.well-known/jwks.json`)), {
      issuer: sys.web.url,
      audience,
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(protectedHeader.kid, 'new', 'the first key signs');
    assert.equal(payload.sub, user.id);
    assert.equal(payload.talkdesk_account_id, event.data.account_id);
    assert.equal(payload.talkdesk_installation_id, installation.id);
    assert.equal(payload.name, user.name);
    assert.equal(payload.email, user.email);
    assert.equal(payload.role, 'admin');
    assert.equal(payload.partner_account_id, 'pa-42');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 60);
    // When the sign-in began (/launch), for a partner to refuse a token older than a logout it got.
    const authTime = Number(payload.auth_time);
    assert.ok(authTime <= (payload.iat ?? 0) && authTime >= (payload.iat ?? 0) - 600, String(payload.auth_time));
    assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);

    const seen = new MemorySeenTokenIds();
    const claims = await verifyHandoffToken(token, { issuer: sys.web.url, audience, seen });
    assert.equal(claims.sub, user.id);
    await assert.rejects(verifyHandoffToken(token, { issuer: sys.web.url, audience, seen }), /used before/);
    await assert.rejects(
      verifyHandoffToken(token, { issuer: sys.web.url, audience: 'https://other.example', seen: new MemorySeenTokenIds() }),
      /refused: ERR_JWT_CLAIM_VALIDATION_FAILED: aud is not "https:\/\/other\.example" \(give the origin of your app/,
    );
    // The issuer given with a path its keys are not under: the partner is told it cannot fetch them, and where it looked.
    await assert.rejects(
      verifyHandoffToken(token, { issuer: `${sys.web.url}/nowhere`, audience, seen: new MemorySeenTokenIds() }),
      (err: Error) => err.message.includes(`${sys.web.url}/nowhere/.well-known/jwks.json`) && !err.message.includes(token),
    );
    assert.equal(decodeProtectedHeader(token).kid, 'new');
  });

  it('a standard user without a partner account id gets role user and no partner_account_id claim', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[1];
    assert.ok(user);
    sys.simulator.signInAs(installation.id, user.id);
    const { body } = await new TestBrowser().open(launchUrl(sys, installation.id));
    const token = /name="token" value="([^"]+)"/.exec(body)?.[1] ?? '';
    const claims = await verifyHandoffToken(token, { issuer: sys.web.url, audience: new URL(partner.url).origin });
    assert.equal(claims.role, 'user');
    assert.equal('partner_account_id' in claims, false);
    assert.equal('partner_state' in claims, false);
  });

  it('a hand-off whose account read fails answers 503 store_unavailable and is not counted, nor logged, as a sign-in', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    const accounts = sys.webStore.accounts;
    const read = accounts.getAccount.bind(accounts);
    // The store stops answering between the sign-in's checks and the hand-off's read of the account.
    accounts.getAccount = async () => {
      accounts.getAccount = read;
      throw new MongoNetworkError('connection reset');
    };
    const before = { ok: await ssoMetric(sys, 'ok'), down: await ssoMetric(sys, 'store_unavailable') };
    const linesBefore = sys.logLines.length;
    try {
      sys.simulator.signInAs(installation.id, user.id);
      const { res, body } = await new TestBrowser().open(launchUrl(sys, installation.id));
      assert.equal(res.status, 503, body.slice(0, 300));
      assert.match(body, /data-reason="store_unavailable"/);
      assert.doesNotMatch(body, /name="token"/, 'no token handed off');
    } finally {
      accounts.getAccount = read;
    }
    assert.equal(await ssoMetric(sys, 'store_unavailable'), before.down + 1);
    assert.equal(await ssoMetric(sys, 'ok'), before.ok, 'not counted as signed in');
    const signedIn = sys.logLines.slice(linesBefore).filter((l) => l.includes('"msg":"signed in"') && l.includes(installation.id));
    assert.deepEqual(signedIn, [], 'nor logged as signed in');
    // Control: the line this looks for is the one a sign-in logs.
    sys.simulator.signInAs(installation.id, user.id);
    assert.equal((await new TestBrowser().open(launchUrl(sys, installation.id))).res.status, 200);
    assert.ok(sys.logLines.slice(linesBefore).some((l) => l.includes('"msg":"signed in"') && l.includes(installation.id)));
  });

  it("partner_state given to /launch comes back in the token: the partner refuses a token from another browser's launch", async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    const audience = new URL(partner.url).origin;
    const tokenFor = async (partnerState: string) => {
      sys.simulator.signInAs(installation.id, user.id);
      const { body } = await new TestBrowser().open(`${launchUrl(sys, installation.id)}&partner_state=${partnerState}`);
      return /name="token" value="([^"]+)"/.exec(body)?.[1] ?? '';
    };
    const mine = await tokenFor('victim-browser-state');
    const claims = await verifyHandoffToken(mine, { issuer: sys.web.url, audience, partnerState: 'victim-browser-state' });
    assert.equal(claims.partner_state, 'victim-browser-state');
    // A token an attacker got from a launch of their own, posted into the victim's browser.
    const theirs = await tokenFor('attacker-browser-state');
    await assert.rejects(
      verifyHandoffToken(theirs, { issuer: sys.web.url, audience, partnerState: 'victim-browser-state' }),
      /partner_state/,
    );
    // The victim's browser never went through the partner's launch page: no cookie, no token accepted.
    sys.simulator.signInAs(installation.id, user.id);
    const plain = /name="token" value="([^"]+)"/.exec((await new TestBrowser().open(launchUrl(sys, installation.id))).body)?.[1] ?? '';
    await assert.rejects(verifyHandoffToken(plain, { issuer: sys.web.url, audience, partnerState: undefined }), /partner_state/);
    // A value that is not an opaque id is refused at /launch.
    sys.simulator.signInAs(installation.id, user.id);
    const bad = await new TestBrowser().open(`${launchUrl(sys, installation.id)}&partner_state=${encodeURIComponent('<script>')}`);
    assert.equal(bad.res.status, 400);
  });
});
