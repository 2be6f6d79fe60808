import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser } from 'playwright-core';
import { generateSigningKeySpec, parseSigningKeys } from '../../src/sso/signing-keys';
import { launchChromium } from '../support/chromium';
import { startSystem, type TestSystem } from '../support/system';
import { eventually } from '../support/waits';
import { activeInstallation, launchUrl, partnerApp } from './helpers';

/**
 * The hand-off page's own script, run by a real browser: the form post to APP_HOME_URL happens without a click,
 * within the page's CSP (its nonce), and carries a token that verifies. handoff.test.ts checks the page and the token
 * without running the script.
 */
describe('launch in headless Chromium: handed to the partner app (APP_HOME_URL) without a click', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let partner: Awaited<ReturnType<typeof partnerApp>>;
  let browser: Browser | undefined;

  before(async function () {
    browser = await launchChromium(this, ['--headless']);
    partner = await partnerApp();
    // As the web process refuses APP_HOME_URL without SSO_SIGNING_KEYS at start.
    sys = await startSystem({ launch: { appHomeUrl: partner.url, signingKeys: parseSigningKeys(generateSigningKeySpec('k1')) } });
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await sys?.close();
    await partner?.close();
  });

  it("the page's script posts the signed identity to the partner app, in the body, within the page's CSP", async () => {
    assert.ok(browser);
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    sys.simulator.signInAs(installation.id, user.id);
    const context = await browser.newContext();
    const page = await context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    try {
      const before = partner.posts.length;
      await page.goto(launchUrl(sys, installation.id, user.id));
      const post = await eventually('the form post at the partner app', async () => partner.posts[before], 20_000);
      await page.waitForURL(partner.url, { timeout: 20_000 });
      assert.match(await page.content(), /partner home/);
      assert.deepEqual(cspViolations, [], 'the script ran within the CSP (its nonce)');
      const token = new URLSearchParams(post).get('token') ?? '';
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${sys.web.url}/.well-known/jwks.json`)), {
        issuer: sys.web.url,
        audience: new URL(partner.url).origin,
      });
      assert.equal(payload.sub, user.id);
      assert.ok(!page.url().includes(token), 'never in a URL');
    } finally {
      await context.close().catch(() => undefined);
    }
  });
});
