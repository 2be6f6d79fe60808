import assert from 'node:assert/strict';
import { useSystemBehindMongoProxy } from '../support/mongo-proxy';
import type { TestSystem } from '../support/system';
import type { TcpProxy } from '../support/tcp-proxy';
import { eventually } from '../support/waits';
import { activeInstallation, launchUrl, signIn, TestBrowser } from './helpers';

describe('launch: MongoDB unreachable from the web server', function () {
  this.timeout(120_000);
  let proxy: TcpProxy;
  let sys: TestSystem;
  useSystemBehindMongoProxy(
    (s, p) => {
      sys = s;
      proxy = p;
    },
    { launch: { supportContact: 'help@partner.example' } },
  );

  it('answers HTML pages (no redirect, no JSON, no stack) and works again once MongoDB is back', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const { browser, status } = await signIn(sys, installation.id, licensed[0]?.id ?? '');
    assert.equal(status, 200);

    proxy.block();
    const launch = await new TestBrowser().open(launchUrl(sys, installation.id));
    // A MongoError is the store's outage, not our fault to investigate (before: 500 internal_error).
    assert.equal(launch.res.status, 503);
    assert.equal(launch.res.headers.get('retry-after'), '30');
    assert.match(launch.res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(launch.body, /data-reason="store_unavailable"/);
    assert.ok(launch.body.includes('help@partner.example'));
    const app = await browser.request(`${sys.web.url}/app`);
    assert.equal(app.status, 503);
    const page = await app.text();
    assert.match(page, /Try again in a minute/);
    assert.doesNotMatch(page, /Error|at \w+ \(|"error"/);

    proxy.unblock();
    await eventually(
      'the session page again',
      async () => ((await browser.request(`${sys.web.url}/app`)).status === 200 ? true : undefined),
      // The driver may take a heartbeat (10 s) or, stuck, the web's store watchdog to reconnect: a loaded machine adds to both.
      60_000,
    );
  });

  it('signing out with MongoDB unreachable still clears the cookie: the browser holds no session afterwards', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const { browser, body } = await signIn(sys, installation.id, licensed[0]?.id ?? '');
    const csrf = /name="csrf" value="([^"]+)"/.exec(body)?.[1];
    assert.ok(csrf);
    proxy.block();
    const out = await browser.request(`${sys.web.url}/app/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${csrf}`,
    });
    assert.equal(out.status, 303);
    assert.equal(out.headers.get('location'), '/app/signed-out');
    assert.equal(browser.jar.has('appconnect_session'), false, 'the cookie is cleared');
    assert.ok(
      sys.logLines.some((l) => l.includes('sign-out: the session could not be ended in the store')),
      'the failed end is logged',
    );
    proxy.unblock();
    assert.equal((await browser.request(`${sys.web.url}/app`)).status, 401, 'no session in this browser: not signed in');
  });
});
