import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { TEST_RESULTS_DIR, launchChromium } from '../support/chromium';
import { useSystem, type TestSystem } from '../support/system';
import { activeInstallation, launchUrl } from './helpers';

const SCREENSHOT = path.join(TEST_RESULTS_DIR, 'launch-app.png');

describe('launch in headless Chromium: from the launch URL to /app, without a click', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let browser: Browser | undefined;
  useSystem((s) => (sys = s), { launch: {} });

  before(async function () {
    browser = await launchChromium(this, ['--headless']);
    mkdirSync(TEST_RESULTS_DIR, { recursive: true });
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
  });

  it('signs the user in and shows the user and account names; the Talkdesk header is asked for and its absence tolerated; sign-out works', async () => {
    assert.ok(browser);
    const { installation, event, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    sys.simulator.signInAs(installation.id, user.id);

    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    // No network but loopback: the Talkdesk CDN script is refused here, as a blocked CDN would be.
    const outside: string[] = [];
    await context.route('**/*', (route) => {
      const host = new URL(route.request().url()).hostname;
      if (host === '127.0.0.1') return route.continue();
      outside.push(route.request().url());
      return route.abort();
    });
    const navigations: string[] = [];
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations.push(f.url());
    });
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    try {
      await page.goto(launchUrl(sys, installation.id, user.id));
      await page.waitForURL(`${sys.web.url}/app`, { timeout: 20_000 });
      await page.locator('#user-name').waitFor();
      assert.equal(await page.locator('#user-name').innerText(), user.name);
      assert.equal(await page.locator('#account-name').innerText(), event.data.account_name);
      // The first licensed user installed the app at the simulator (created_by): the account's admin.
      assert.equal(await page.locator('#role').getAttribute('data-role'), 'admin');
      const hosts = navigations.map((u) => new URL(u).host);
      assert.ok(
        !navigations.some((u) => u.includes('/oauth/authorize') && !u.includes('/sso/')),
        `no page shown at Talkdesk: ${JSON.stringify(hosts)}`,
      );
      assert.deepEqual(
        outside,
        ['https://prd-cdn-talkdesk.talkdesk.com/tdconnect-widget/latest/td.connect.js'],
        'only the widget script was asked for outside',
      );
      assert.deepEqual(cspViolations, [], 'the page runs within its own CSP');
      const cookies = await context.cookies(sys.web.url);
      const session = cookies.find((c) => c.name === 'appconnect_session');
      assert.ok(session?.httpOnly && session.sameSite === 'Lax');
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${sys.web.url}/app/signed-out`);
      assert.match(await page.locator('h1').innerText(), /signed out/);
      const again = await page.goto(`${sys.web.url}/app`);
      assert.equal(again?.status(), 401);
    } catch (err) {
      await page.screenshot({ path: path.join(TEST_RESULTS_DIR, 'launch-app-failure.png'), fullPage: true }).catch(() => undefined);
      throw err;
    } finally {
      await context.close().catch(() => undefined);
    }
    assert.ok(statSync(SCREENSHOT).size > 5_000, 'the screenshot was written');
  });
});
