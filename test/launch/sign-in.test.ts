import assert from 'node:assert/strict';
import { COLLECTIONS } from '../../src/store/db';
import { SessionStore } from '../../src/store/sessions';
import { STARTER_CHECKLIST, STARTER_DASHBOARDS } from '../../src/store/starter-content';
import { useSystem, type TestSystem } from '../support/system';
import { activeInstallation, launchUrl, signIn, ssoMetric, TestBrowser } from './helpers';

describe('launch: single sign-on from Talkdesk to /app', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: {} });

  it('GET /launch answers 302 to the stored authorization link with the OAuth parameters and an HttpOnly state cookie', async () => {
    const { installation, event } = await activeInstallation(sys);
    const res = await new TestBrowser().request(launchUrl(sys, installation.id, 'hint-only'));
    assert.equal(res.status, 302);
    const to = new URL(res.headers.get('location') ?? '');
    assert.equal(`${to.origin}${to.pathname}`, event._links.authorization.href);
    assert.equal(to.searchParams.get('client_id'), event.data.client_id);
    assert.equal(to.searchParams.get('redirect_uri'), `${sys.web.url}/sso/callback`);
    assert.equal(to.searchParams.get('response_type'), 'code');
    assert.equal(to.searchParams.get('scope'), 'openid');
    assert.match(to.searchParams.get('state') ?? '', /^[A-Za-z0-9_-]{40,}$/);
    assert.match(to.searchParams.get('nonce') ?? '', /^[A-Za-z0-9_-]{40,}$/);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('appconnect_sso='));
    assert.ok(cookie, 'the state is bound to the browser');
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\/sso\/callback/);
    assert.doesNotMatch(cookie, /Secure/, 'http base URL: not Secure');
    assert.equal(await res.text(), '', 'no page, no click');
  });

  it('signs a licensed user in: 303 to /app, a server-side session, and the first page with names, role, licences and starter content', async () => {
    const { installation, event, licensed } = await activeInstallation(sys, { licensedUsers: 3 });
    const admin = licensed[0];
    assert.ok(admin);
    const before = await ssoMetric(sys, 'ok');
    // The built-in provisioner marked the installing administrator (created_by at Talkdesk) and created the starter content.
    assert.equal(
      sys.simulator.getInstallation(installation.id)?.createdBy,
      admin.id,
      'the simulator names the first user as the installer',
    );

    const { browser, body, status, url } = await signIn(sys, installation.id, admin.id);
    assert.equal(status, 200, body);
    assert.equal(url, `${sys.web.url}/app`);
    const callbackHop = browser.hops.find((h) => h.url.includes('/sso/callback'));
    assert.equal(callbackHop?.status, 303);
    const exchange = sys.simulator.calls.filter((c) => c.route === 'token' && c.installationId === installation.id).at(-1);
    assert.equal(exchange?.clientAuth, 'assertion', 'a signed JWT client assertion by default');
    assert.ok(body.includes(admin.name), 'the user name');
    assert.ok(body.includes(event.data.account_name), 'the account name');
    assert.match(body, /data-role="admin"/);
    assert.match(body, /<dd id="licensed-users">3<\/dd>/);
    const [dashboard, firstStep] = [STARTER_DASHBOARDS[0], STARTER_CHECKLIST[0]];
    assert.ok(dashboard && firstStep);
    assert.ok(body.includes(dashboard.title) && body.includes(firstStep.title), 'the starter content provisioning created');
    assert.ok(
      body.includes('<script src="https://prd-cdn-talkdesk.talkdesk.com/tdconnect-widget/latest/td.connect.js"'),
      'the Talkdesk header',
    );
    assert.equal(await ssoMetric(sys, 'ok'), before + 1);

    const page = await browser.request(`${sys.web.url}/app`);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'nonce-[^']+' https:\/\/prd-cdn-talkdesk\.talkdesk\.com(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.equal(page.headers.get('cache-control'), 'no-store');

    // The cookie holds an opaque id; the store keeps only its hash.
    const sessionId = browser.jar.get('appconnect_session')?.value ?? '';
    assert.ok(sessionId.length >= 40);
    const sessions = await sys.store.db.db.collection(COLLECTIONS.sessions).find({ installationId: installation.id }).toArray();
    assert.equal(sessions.length, 1);
    assert.notEqual(sessions[0]?._id, sessionId);
    assert.ok(!JSON.stringify(sessions).includes(sessionId));
    assert.equal(sessions[0]?.talkdeskUserId, admin.id);
  });

  it('shows a standard user as such, and works without starter content', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[1];
    assert.ok(user);
    // As with a partner's own provisioner (HTTP hooks), which creates no built-in starter content.
    const removed = await sys.store.starterContent.coll.deleteOne({ _id: installation.accountId });
    assert.equal(removed.deletedCount, 1, 'the built-in provisioner had created starter content');
    const { body, status } = await signIn(sys, installation.id, user.id);
    assert.equal(status, 200, body);
    assert.match(body, /data-role="user"/);
    assert.match(body, /sample dashboards are being prepared/);
  });

  it("a removed licence ends the session on the next page: from the account's list, or the mapping of an account without one", async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 3 });
    const [a, b] = licensed;
    assert.ok(a && b);
    const appStatus = async (br: TestBrowser) => (await br.request(`${sys.web.url}/app`)).status;
    const ba = (await signIn(sys, installation.id, a.id)).browser;
    const bb = (await signIn(sys, installation.id, b.id)).browser;
    // Written in the store only (no event, so no session is ended by the callback first).
    await sys.store.accounts.deactivateUsers(installation.accountId, [a.id]);
    assert.equal(await appStatus(ba), 401, 'the list no longer names the user');
    assert.equal(await appStatus(bb), 200);
    // An account of an earlier version keeps no list: the mapping decides.
    await sys.store.db.db
      .collection(COLLECTIONS.accounts)
      .updateOne({ _id: installation.accountId as never }, { $unset: { licensedUsers: '' } });
    assert.equal(await appStatus(bb), 200, 'an active mapping');
    await sys.store.accounts.users.updateOne({ _id: `${installation.accountId}:${b.id}` }, { $set: { active: false } });
    assert.equal(await appStatus(bb), 401, 'an inactive mapping');
  });

  it('an admin whose mapping was made inactive (an update not applied yet) is re-licensed from Talkdesk at sign-in and stays admin', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const admin = licensed[0];
    assert.ok(admin);
    const mapping = { _id: `${installation.accountId}:${admin.id}` };
    await sys.store.accounts.deactivateUsers(installation.accountId, [admin.id]);
    const { body, status } = await signIn(sys, installation.id, admin.id);
    assert.equal(status, 200, body);
    const refreshed = await sys.store.accounts.users.findOne(mapping);
    assert.equal(refreshed?.active, true, "re-licensed from Talkdesk's list");
    // Before, the refresh wrote role 'user' over the installing administrator's.
    assert.equal(refreshed?.role, 'admin');
    assert.match(body, /data-role="admin"/);
  });

  it('/app without a session answers 401 with a page saying to open the app from Talkdesk again', async () => {
    const res = await new TestBrowser().request(`${sys.web.url}/app`);
    assert.equal(res.status, 401);
    assert.match(await res.text(), /open the app again from Talkdesk/);
  });

  it('POST /app/logout needs the form CSRF token, ends the session and answers 303 to a signed-out page', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    const { browser, body } = await signIn(sys, installation.id, user.id);
    const csrf = /name="csrf" value="([^"]+)"/.exec(body)?.[1];
    assert.ok(csrf);
    const form = (token: string) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${token}`,
    });

    // Another site's form: the browser keeps the cookie back (SameSite), and the answer must not clear it.
    const crossSite = await fetch(`${sys.web.url}/app/logout`, { ...form('forged'), redirect: 'manual' });
    assert.equal(crossSite.status, 303);
    assert.deepEqual(crossSite.headers.getSetCookie(), [], 'no cookie cleared without one');

    const forged = await browser.request(`${sys.web.url}/app/logout`, form('forged'));
    assert.equal(forged.status, 403);
    assert.equal((await browser.request(`${sys.web.url}/app`)).status, 200, 'a forged sign-out ends nothing');

    // The app opened again in this browser (another tab): the first page's button is of an earlier session. Nothing
    // ends by it, and the answer asks again with the current session's token, which signs out at a click.
    const again = await signIn(sys, installation.id, user.id, { browser });
    const current = /name="csrf" value="([^"]+)"/.exec(again.body)?.[1];
    assert.ok(current && current !== csrf, 'a new session, a new token');
    const stale = await browser.request(`${sys.web.url}/app/logout`, form(csrf));
    assert.equal(stale.status, 403);
    const asked = await stale.text();
    assert.match(asked, /data-reason="earlier_page"/);
    assert.equal(/name="csrf" value="([^"]+)"/.exec(asked)?.[1], current, "the current session's token, to confirm");
    assert.equal((await browser.request(`${sys.web.url}/app`)).status, 200, 'nothing ended by the earlier page');

    const sessionsOf = () => sys.store.db.db.collection(COLLECTIONS.sessions).countDocuments({ installationId: installation.id });
    const open = await sessionsOf();
    const out = await browser.request(`${sys.web.url}/app/logout`, form(current));
    assert.equal(out.status, 303);
    assert.equal(out.headers.get('location'), '/app/signed-out');
    assert.equal(browser.jar.has('appconnect_session'), false, 'the cookie is cleared');
    assert.equal(await sessionsOf(), open - 1, 'the current session ended');
    assert.match(await (await browser.request(`${sys.web.url}/app/signed-out`)).text(), /signed out/);
  });

  it('an expired session is refused and deleted on read; the sweep deletes the ones nobody reads', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    const { browser } = await signIn(sys, installation.id, user.id);
    const sessions = sys.store.db.db.collection(COLLECTIONS.sessions);
    await sessions.updateMany({ installationId: installation.id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    assert.equal((await browser.request(`${sys.web.url}/app`)).status, 401);
    assert.equal(await sessions.countDocuments({ installationId: installation.id }), 0);

    const store = new SessionStore(sys.store.db);
    const base = { installationId: installation.id, accountId: 'a', talkdeskUserId: 'u', role: 'user' as const };
    await store.open(base, 60_000, new Date(Date.now() - 120_000));
    await store.open(base, 3_600_000);
    assert.equal(await store.sweep(), 1);
    assert.equal(await sessions.countDocuments({ installationId: installation.id }), 1, 'the live one stays');
  });

  it("opens an installation whose id holds `.` and `:` (ids the events take), and Talkdesk's user.logout signs its user out", async () => {
    const installationId = `tenant-7:inst.${Date.now()}`;
    const { installation, licensed } = await activeInstallation(sys, { installationId });
    assert.equal(installation.id, installationId);
    const user = licensed[0];
    assert.ok(user);
    const { browser, status, url, body } = await signIn(sys, installationId, user.id);
    assert.equal(status, 200, body);
    assert.equal(url, `${sys.web.url}/app`);
    assert.equal(await sys.simulator.deliver(sys.simulator.userLogout(installationId, user.id), { callbackUrl: sys.web.callbackUrl }), 200);
    assert.equal((await browser.request(`${sys.web.url}/app`)).status, 401, 'signed out');
  });

  it('keeps one id\'s logout mark apart from another\'s that joins to the same text ("a:b"+"c", "a"+"b:c")', async () => {
    const sessions = new SessionStore(sys.store.db);
    const at = new Date();
    const suffix = Date.now();
    await sessions.markLoggedOut(`a${suffix}:b`, 'c', at);
    assert.equal((await sessions.endingMarks(`a${suffix}:b`, 'c')).loggedOutAt?.getTime(), at.getTime());
    assert.equal((await sessions.endingMarks(`a${suffix}`, 'b:c')).loggedOutAt, undefined, "another installation's user is not signed out");
    // An uninstall's mark written by the version before (unescaped), still pending at the upgrade, is still found.
    await sys.store.db.db.collection(COLLECTIONS.ssoLogouts).insertOne({ _id: `t${suffix}:1:*:removed` as never, at });
    assert.equal((await sessions.endingMarks(`t${suffix}:1`, 'u')).uninstalledAt?.getTime(), at.getTime());
  });
});

describe('launch: SSO_CLIENT_AUTH=client_secret_basic, and the user-id hint never trusted', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: { clientAuth: 'client_secret_basic' } });

  it('exchanges the code with HTTP Basic, and signs in the user /users/me names even when the hint names another', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const [real, other] = licensed;
    assert.ok(real && other);
    sys.simulator.signInAs(installation.id, real.id);
    const browser = new TestBrowser();
    const { res, body } = await browser.open(launchUrl(sys, installation.id, other.id));
    assert.equal(res.status, 200, body.slice(0, 300));
    assert.ok(body.includes(real.name) && !body.includes(`>${other.name}<`));
    const exchange = sys.simulator.calls.filter((c) => c.route === 'token' && c.installationId === installation.id).at(-1);
    assert.equal(exchange?.status, 200);
    assert.equal(exchange?.clientAuth, 'basic');
    assert.ok(sys.logLines.some((l) => l.includes('differs from the launch hint') && l.includes(other.id)));
  });
});
