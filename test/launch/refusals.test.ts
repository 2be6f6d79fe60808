import assert from 'node:assert/strict';
import { SsoFailureStore } from '../../src/store/sso-failures';
import { useSystem, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';
import { activeInstallation, launchUrl, ssoMetric, TestBrowser } from './helpers';

const SUPPORT = 'help@partner.example (+1 555 0100)';

describe('launch: every sign-in failure answers a page with its status and reason, and is recorded', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: { supportContact: SUPPORT } });

  /** The page, the MongoDB record and the metric of one failure. */
  async function expectFailure(
    res: { status: number; body: string },
    reason: string,
    status: number,
    o: { installationId?: string; accountName?: string; metricBefore: number },
  ) {
    assert.equal(res.status, status, res.body.slice(0, 400));
    assert.match(res.body, new RegExp(`data-reason="${reason}"`));
    assert.ok(res.body.includes('help@partner.example (+1 555 0100)'), 'the support contact');
    assert.match(res.body, /What to do:/);
    if (o.accountName) assert.ok(res.body.includes(o.accountName), 'the account name when known');
    assert.doesNotMatch(res.body, /at [A-Za-z]+ \(|Error:/, 'no stack trace');
    const ref = /id="reference">(sso-[0-9a-f]+)</.exec(res.body)?.[1];
    assert.ok(ref, 'a reference id');
    const rec = await new SsoFailureStore(sys.store.db).get(ref);
    assert.ok(rec, 'recorded in sso_failures');
    assert.equal(rec.reason, reason);
    assert.equal(rec.status, status);
    if (o.installationId) assert.equal(rec.installationId, o.installationId);
    assert.deepEqual(
      Object.keys(rec).filter((k) => !['_id', 'reason', 'status', 'installationId', 'accountId', 'oauthError', 'detail', 'at'].includes(k)),
      [],
    );
    assert.equal(await ssoMetric(sys, reason), o.metricBefore + 1);
    assert.ok(
      sys.logLines.some((l) => l.includes(ref) && l.includes(reason)),
      'a log line with the reference',
    );
  }

  /** Launch up to the callback URL Talkdesk sends the browser back to (not followed). */
  async function untilCallback(browser: TestBrowser, installationId: string): Promise<string> {
    const launch = await browser.request(launchUrl(sys, installationId));
    assert.equal(launch.status, 302);
    const authorize = await browser.request(launch.headers.get('location') ?? '');
    assert.equal(authorize.status, 302);
    return authorize.headers.get('location') ?? '';
  }

  /** An active installation whose first licensed user is signed in at Talkdesk. */
  async function signedIn() {
    const { installation, licensed } = await activeInstallation(sys);
    sys.simulator.signInAs(installation.id, licensed[0]?.id ?? '');
    return installation;
  }

  /** A launch of the installation in a new browser fails with `reason` and `status` (page, record and metric). */
  async function expectLaunchRefused(installationId: string, reason: string, status: number) {
    const before = await ssoMetric(sys, reason);
    const res = await open(new TestBrowser(), launchUrl(sys, installationId));
    await expectFailure(res, reason, status, { installationId, metricBefore: before });
  }

  async function open(browser: TestBrowser, url: string) {
    const { res, body } = await browser.open(url);
    return { status: res.status, body, headers: res.headers };
  }

  it('unknown installation: 404 unknown_installation', async () => {
    const before = await ssoMetric(sys, 'unknown_installation');
    const res = await open(new TestBrowser(), `${sys.web.url}/launch?talkdesk_installation_id=0000nothere`);
    await expectFailure(res, 'unknown_installation', 404, { metricBefore: before });
    const missing = await open(new TestBrowser(), `${sys.web.url}/launch`);
    assert.equal(missing.status, 404);
  });

  it('uninstalled installation: 409 installation_inactive, with the account name', async () => {
    const { installation, event } = await activeInstallation(sys);
    assert.equal(await sys.simulator.deliver(sys.simulator.uninstall(installation.id), { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, installation.id, 'uninstalled');
    const before = await ssoMetric(sys, 'installation_inactive');
    const res = await open(new TestBrowser(), launchUrl(sys, installation.id));
    await expectFailure(res, 'installation_inactive', 409, {
      installationId: installation.id,
      accountName: event.data.account_name,
      metricBefore: before,
    });
  });

  it('unlicensed user: 403 not_licensed, after reading the licensed users from Talkdesk once', async () => {
    const { installation, unlicensed } = await activeInstallation(sys);
    const user = unlicensed[0];
    assert.ok(user);
    sys.simulator.signInAs(installation.id, user.id);
    const licensedCalls = () =>
      sys.simulator.calls.filter((c) => c.route === 'licensedUsers' && c.installationId === installation.id).length;
    const callsBefore = licensedCalls();
    await expectLaunchRefused(installation.id, 'not_licensed', 403);
    assert.equal(licensedCalls(), callsBefore + 1);
  });

  it('state replayed: 400 state_invalid', async () => {
    const installation = await signedIn();
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, installation.id);
    const sso = browser.jar.get('appconnect_sso');
    assert.equal((await open(browser, callback)).status, 200, 'the first use signs in');
    assert.ok(sso, 'the sign-in set its state cookie');
    browser.jar.set('appconnect_sso', sso); // even with the cookie back: refused as replayed, not as another browser's
    const before = await ssoMetric(sys, 'state_invalid');
    const replayed = await open(browser, callback);
    await expectFailure(replayed, 'state_invalid', 400, { installationId: installation.id, metricBefore: before });
    const ref = /id="reference">(sso-[0-9a-f]+)</.exec(replayed.body)?.[1] ?? '';
    assert.equal((await new SsoFailureStore(sys.store.db).get(ref))?.detail, 'replayed');
  });

  it("a code obtained for another sign-in's nonce, brought to this browser's callback: 400 state_invalid (nonce_mismatch)", async () => {
    const installation = await signedIn();
    const victim = new TestBrowser();
    const ours = new URL(await untilCallback(victim, installation.id));
    // The attacker's own sign-in: a good code, issued for the attacker's nonce.
    const injected = new URL(await untilCallback(new TestBrowser(), installation.id));
    ours.searchParams.set('code', injected.searchParams.get('code') ?? '');
    const before = await ssoMetric(sys, 'state_invalid');
    const res = await open(victim, ours.href);
    await expectFailure(res, 'state_invalid', 400, { installationId: installation.id, metricBefore: before });
    const ref = /id="reference">(sso-[0-9a-f]+)</.exec(res.body)?.[1] ?? '';
    assert.equal((await new SsoFailureStore(sys.store.db).get(ref))?.detail, 'nonce_mismatch');
    assert.equal(victim.jar.has('appconnect_session'), false, 'no session opened');
  });

  it('state from another browser: 400 state_invalid, and the state stays good for its own browser', async () => {
    const installation = await signedIn();
    const victim = new TestBrowser();
    const callback = await untilCallback(victim, installation.id);
    const before = await ssoMetric(sys, 'state_invalid');
    await expectFailure(await open(new TestBrowser(), callback), 'state_invalid', 400, {
      installationId: installation.id,
      metricBefore: before,
    });
    const other = new TestBrowser();
    other.jar.set('appconnect_sso', { value: 'x'.repeat(43), path: '/sso/callback' });
    assert.equal((await open(other, callback)).status, 400);
    assert.equal((await open(victim, callback)).status, 200);
  });

  it('OAuth error on the callback: 401 oauth_error, the error code recorded', async () => {
    const installation = await signedIn();
    sys.simulator.denyNextAuthorization('access_denied');
    await expectLaunchRefused(installation.id, 'oauth_error', 401);
    const [rec] = (await new SsoFailureStore(sys.store.db).listForInstallation(installation.id)).slice(-1);
    assert.equal(rec?.oauthError, 'access_denied');
  });

  it('token endpoint 500: 502 talkdesk_refused', async () => {
    const installation = await signedIn();
    sys.simulator.failNext('token', 1, { status: 500 });
    await expectLaunchRefused(installation.id, 'talkdesk_refused', 502);
    const [rec] = (await new SsoFailureStore(sys.store.db).listForInstallation(installation.id)).slice(-1);
    assert.equal(rec?.detail, 'token_server_error_500', 'which call, and what Talkdesk answered');
  });

  it('userinfo 401: 502 talkdesk_refused', async () => {
    const installation = await signedIn();
    sys.simulator.failNext('userinfo', 1, { status: 401 });
    await expectLaunchRefused(installation.id, 'talkdesk_refused', 502);
    const [rec] = (await new SsoFailureStore(sys.store.db).listForInstallation(installation.id)).slice(-1);
    assert.equal(rec?.detail, 'userinfo_unauthorized_401');
  });

  it("Talkdesk's rate limit (429) on the code exchange: 503 talkdesk_busy with its Retry-After, no session; the next launch signs in", async () => {
    const installation = await signedIn();
    sys.simulator.failNext('token', 1, { status: 429, retryAfterSeconds: 30 });
    const browser = new TestBrowser();
    const before = await ssoMetric(sys, 'talkdesk_busy');
    const res = await open(browser, launchUrl(sys, installation.id));
    await expectFailure(res, 'talkdesk_busy', 503, { installationId: installation.id, metricBefore: before });
    assert.equal(res.headers.get('retry-after'), '30', "Talkdesk's pause, passed on to the browser");
    const [rec] = (await new SsoFailureStore(sys.store.db).listForInstallation(installation.id)).slice(-1);
    assert.equal(rec?.detail, 'token_rate_limited_429', 'which call, and that Talkdesk rate-limited it');
    assert.equal(browser.jar.has('appconnect_session'), false, 'no session opened');
    // Opened again once Talkdesk answers, the app signs in.
    assert.equal((await open(browser, launchUrl(sys, installation.id))).status, 200);
    assert.equal(browser.jar.has('appconnect_session'), true);
  });

  it('Talkdesk unreachable (connection dropped): 503 talkdesk_unreachable', async () => {
    const installation = await signedIn();
    sys.simulator.failNext('token', 1, { drop: true });
    await expectLaunchRefused(installation.id, 'talkdesk_unreachable', 503);
  });
});
