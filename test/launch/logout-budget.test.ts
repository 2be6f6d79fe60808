import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';
import { activeInstallation, signIn, type TestBrowser } from './helpers';

/**
 * Past the callback's signed budget (CALLBACK_RATE_LIMIT_PER_MINUTE) nothing Talkdesk signed is refused: a
 * lifecycle event is stored and handed over by the dispatcher, a user.logout handled at once (a 429 would
 * spend one of Talkdesk's two redeliveries).
 */
describe('launch: signed deliveries past the callback budget (one a minute here)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: {}, webRateLimit: { perMinute: 1, burst: 1 } });

  const post = async (event: object) => {
    const body = JSON.stringify(event);
    const res = await fetch(sys.web.callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature': sys.simulator.signBody(body) },
      body,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const appStatus = async (b: TestBrowser) => (await b.request(`${sys.web.url}/app`)).status;

  it('a user.logout is handled at once, and an uninstall is stored (202), handed over later and applied', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    const browser = (await signIn(sys, installation.id, user.id)).browser;
    assert.equal(await appStatus(browser), 200);
    for (let i = 0; i < 3; i += 1) {
      const logout = await post(sys.simulator.userLogout(installation.id, user.id));
      assert.equal(logout.status, 200, JSON.stringify(logout.json));
    }
    assert.equal(await appStatus(browser), 401, 'signed out');
    const uninstall = await post(sys.simulator.uninstall(installation.id));
    assert.equal(uninstall.status, 202, JSON.stringify(uninstall.json));
    assert.equal(uninstall.json.dispatched, false);
    await waitForPhase(sys.client, installation.id, 'uninstalled');
  });
});
