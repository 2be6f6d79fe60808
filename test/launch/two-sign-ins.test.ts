import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { activeInstallation, launchUrl, signIn, TestBrowser } from './helpers';

/** The app opened twice in one browser before either sign-in returned (two tabs, a reload mid-way). */
describe('launch: two sign-ins under way in one browser', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: {} });

  /** /launch, then Talkdesk's sign-in: the callback URL it sends the browser to, not yet followed. */
  async function toCallback(browser: TestBrowser, installationId: string, userId: string): Promise<string> {
    const launch = await browser.request(launchUrl(sys, installationId, userId));
    assert.equal(launch.status, 302);
    const authorize = await browser.request(launch.headers.get('location') ?? '');
    assert.equal(authorize.status, 302);
    const callback = authorize.headers.get('location') ?? '';
    assert.match(callback, /\/sso\/callback\?/);
    return callback;
  }

  it("the earlier one's callback fails (its cookie was replaced) without taking the later one's cookie: that one signs in", async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    sys.simulator.signInAs(installation.id, user.id);
    const browser = new TestBrowser();
    const first = await toCallback(browser, installation.id, user.id);
    const second = await toCallback(browser, installation.id, user.id);

    const earlier = await browser.open(first);
    assert.equal(earlier.res.status, 400, earlier.body.slice(0, 400));
    assert.match(earlier.body, /data-reason="state_invalid"/);
    // Before, that failure cleared the cookie the later sign-in's callback needs: it failed too.
    const later = await browser.open(second);
    assert.equal(later.res.status, 200, later.body.slice(0, 400));
    assert.match(later.body, /id="user-name"/);
  });

  it("a launch ends the session the browser holds: another Talkdesk user's sign-in that fails leaves no one signed in", async () => {
    const { installation, licensed, unlicensed } = await activeInstallation(sys);
    const [a] = licensed;
    const [b] = unlicensed;
    assert.ok(a && b);
    const { browser } = await signIn(sys, installation.id, a.id);
    assert.equal((await browser.request(`${sys.web.url}/app`)).status, 200, "a's session");
    const session = browser.jar.get('appconnect_session')?.value;
    assert.ok(session);
    // b, at the same workstation, opens the app: not licensed, refused.
    const refused = await signIn(sys, installation.id, b.id, { browser });
    assert.equal(refused.status, 403, refused.body.slice(0, 400));
    const app = await browser.request(`${sys.web.url}/app`);
    assert.equal(app.status, 401, "a's session is not b's to use");
    // Ended in the store too, not only cleared from the browser.
    const replayed = await fetch(`${sys.web.url}/app`, { headers: { cookie: `appconnect_session=${session}` } });
    assert.equal(replayed.status, 401);
  });

  it('a launch refused before it goes to Talkdesk (a forged link, a bad id) signs no one out', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const { browser } = await signIn(sys, installation.id, licensed[0]?.id ?? '');
    const forged = await browser.request(`${sys.web.url}/launch?talkdesk_installation_id=0000nothere`);
    assert.equal(forged.status, 404);
    assert.equal((await browser.request(`${sys.web.url}/app`)).status, 200, 'the session lives on');
  });
});
