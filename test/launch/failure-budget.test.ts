import assert from 'node:assert/strict';
import { SsoFailureStore } from '../../src/store/sso-failures';
import { useSystem, type TestSystem } from '../support/system';
import { eventually } from '../support/waits';
import { activeInstallation, asBrowser, launchUrl, signIn, ssoMetric, TestBrowser } from './helpers';

const BUDGET = 3;

describe('launch: failed sign-ins are budgeted per source, and their records expire', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: { failedSignInsPerMinute: BUDGET, sweepIntervalMs: 300, failureRetentionDays: 30 } });

  const failures = () => new SsoFailureStore(sys.store.db).coll.countDocuments({});

  it('successful sign-ins take nothing; past the budget /launch and /sso/callback answer 429 and record nothing', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const browsers: TestBrowser[] = [];
    for (let i = 0; i < BUDGET + 2; i += 1) {
      const ok = await signIn(sys, installation.id, licensed[0]?.id ?? '');
      assert.equal(ok.status, 200, ok.body.slice(0, 300));
      browsers.push(ok.browser);
    }
    // A failure the sender did not cause (an unlicensed agent clicking the app) takes nothing.
    const other = await activeInstallation(sys);
    sys.simulator.signInAs(other.installation.id, other.unlicensed[0]?.id ?? '');
    for (let i = 0; i < BUDGET + 1; i += 1)
      assert.equal((await new TestBrowser().open(launchUrl(sys, other.installation.id))).res.status, 403);
    const unknown = `${sys.web.url}/launch?talkdesk_installation_id=0000nothere`;
    for (let i = 0; i < BUDGET; i += 1) assert.equal((await new TestBrowser().open(unknown)).res.status, 404);
    const recorded = await failures();
    assert.equal(recorded, 2 * BUDGET + 1);
    const failedLines = () => sys.logLines.filter((l) => l.includes('sign-in failed')).length;
    const linesBefore = failedLines();
    assert.equal(linesBefore, 2 * BUDGET + 1);
    const limitedBefore = await ssoMetric(sys, 'rate_limited');

    for (const url of [unknown, `${sys.web.url}/sso/callback?state=x&code=y`, launchUrl(sys, installation.id)]) {
      const { res, body } = await new TestBrowser().open(url);
      assert.equal(res.status, 429, body.slice(0, 300));
      assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      assert.match(body, /data-reason="rate_limited"/);
      assert.match(body, /What to do:/);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    }
    assert.equal(await failures(), recorded, 'nothing recorded past the budget');
    assert.equal(failedLines(), linesBefore, 'no log line per refused request');
    assert.equal(await ssoMetric(sys, 'rate_limited'), limitedBefore + 3);
    // A launch refused in a browser holding a session drops its cookie (another user may be at it), writing nothing.
    const [held] = browsers;
    assert.ok(held);
    assert.equal((await held.request(`${sys.web.url}/app`)).status, 200);
    assert.equal((await held.request(launchUrl(sys, installation.id))).status, 429);
    assert.equal((await held.request(`${sys.web.url}/app`)).status, 401, 'no session left in the browser');
  });

  it('sso_failures older than SSO_FAILURE_RETENTION_DAYS are deleted by the sweep', async () => {
    const store = new SsoFailureStore(sys.store.db);
    const day = 86_400_000;
    await store.record({ _id: 'sso-old000000001', reason: 'state_invalid', status: 400, at: new Date(Date.now() - 31 * day) });
    await store.record({ _id: 'sso-recent000001', reason: 'state_invalid', status: 400, at: new Date(Date.now() - 29 * day) });
    await eventually('the old record swept', async () => ((await store.get('sso-old000000001')) === null ? true : undefined), 10_000);
    assert.ok(await store.get('sso-recent000001'), 'a record within the retention is kept');
    const indexes = await store.coll.indexes();
    assert.ok(
      indexes.some((i) => JSON.stringify(i.key) === '{"at":1}'),
      JSON.stringify(indexes),
    );
  });
});

describe('launch: requests no browser makes for a sign-in spend nothing of the failed sign-in budget', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: { failedSignInsPerMinute: BUDGET } });

  const failures = () => new SsoFailureStore(sys.store.db).coll.countDocuments({});

  it("another site's images, scripts, fetches and hidden frames (Sec-Fetch-*) are refused 400 and spend nothing of the address's budget", async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const recorded = await failures();
    const refusedBefore = await ssoMetric(sys, 'not_a_navigation');
    const unknown = '/launch?talkdesk_installation_id=0000nothere';
    const kinds = [
      ['no-cors', 'image'],
      ['no-cors', 'script'],
      ['cors', 'empty'],
      ['navigate', 'iframe'], // framed: never a sign-in with SameSite=Lax cookies (the default)
    ];
    for (let i = 0; i < BUDGET + 2; i += 1)
      for (const [mode = '', dest = ''] of kinds)
        for (const path of [unknown, '/sso/callback?state=x&code=y']) {
          const r = await asBrowser(sys, path, mode, dest);
          assert.equal(r.status, 400, `${mode} ${dest} ${path}: ${r.body.slice(0, 200)}`);
        }
    assert.equal(await failures(), recorded, 'nothing recorded');
    assert.equal(await ssoMetric(sys, 'not_a_navigation'), refusedBefore + (BUDGET + 2) * kinds.length * 2);
    // A top-level navigation from the same address is a sign-in attempt, judged and counted as before.
    assert.equal((await asBrowser(sys, unknown, 'navigate', 'document')).status, 404);
    assert.equal(await failures(), recorded + 1);
    const ok = await signIn(sys, installation.id, licensed[0]?.id ?? '');
    assert.equal(ok.status, 200, 'the budget is untouched by the refused requests');
  });
});

describe('launch: made-up codes count against the failed sign-in budget', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: { failedSignInsPerMinute: BUDGET } });

  it("a code Talkdesk does not know (invalid_grant) is the sender's oauth_error: past the budget 429, no token request sent", async () => {
    const { installation } = await activeInstallation(sys);
    const tokenCalls = () => sys.simulator.calls.filter((c) => c.route === 'token').length;
    // Real states from /launch (their cookies in their browsers), taken before the budget is spent: /launch
    // itself answers 429 past it. Each comes back with a code nobody issued.
    const launches = [];
    for (let i = 0; i <= BUDGET; i += 1) {
      const browser = new TestBrowser();
      const launch = await browser.request(launchUrl(sys, installation.id));
      assert.equal(launch.status, 302);
      const state = new URL(launch.headers.get('location') ?? '').searchParams.get('state') ?? '';
      launches.push({ browser, state });
    }
    // Codes a sender chooses, among them ones that overlap Talkdesk's own error code (they must not hide it).
    const codes = ['made-up-code', 'invalid_grant', 'grant'];
    const madeUp = ({ browser, state }: { browser: TestBrowser; state: string }, code = codes[0]) =>
      browser.open(`${sys.web.url}/sso/callback?state=${encodeURIComponent(state)}&code=${code}`);
    for (const [i, l] of launches.slice(0, BUDGET).entries()) {
      const { res, body } = await madeUp(l, codes[i % codes.length]);
      assert.equal(res.status, 401, body.slice(0, 300));
      assert.match(body, /data-reason="oauth_error"/);
    }
    const before = tokenCalls();
    const last = launches[BUDGET];
    assert.ok(last);
    const { res, body } = await madeUp(last);
    assert.equal(res.status, 429, body.slice(0, 300));
    assert.equal(tokenCalls(), before, 'no signed token request past the budget');
  });
});

describe("launch: Talkdesk's own OAuth errors take a budget of their own, ten times larger", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { launch: { failedSignInsPerMinute: BUDGET } });

  it('server_error and temporarily_unavailable: answered and recorded past the sender budget; a forged flood still ends in 429', async () => {
    const { installation } = await activeInstallation(sys);
    /** A launch (undefined when refused 429), then its callback carrying `error`. */
    const callback = async (error: string) => {
      const browser = new TestBrowser();
      const launch = await browser.request(launchUrl(sys, installation.id));
      if (launch.status === 429) return undefined;
      assert.equal(launch.status, 302);
      const state = new URL(launch.headers.get('location') ?? '').searchParams.get('state') ?? '';
      return browser.open(`${sys.web.url}/sso/callback?state=${encodeURIComponent(state)}&error=${error}`);
    };
    // Talkdesk's authorization server in trouble for a whole office behind one address: twice the budget, none refused.
    for (let i = 0; i < 2 * BUDGET; i += 1) {
      const answer = await callback(i % 2 ? 'server_error' : 'temporarily_unavailable');
      assert.ok(answer, `refused after ${i} of Talkdesk's errors`);
      assert.equal(answer.res.status, 401, answer.body.slice(0, 300));
      assert.match(answer.body, /data-reason="oauth_error"/);
    }
    const recorded = await new SsoFailureStore(sys.store.db).coll.find({ detail: 'talkdesk_unavailable' }).toArray();
    assert.equal(recorded.length, 2 * BUDGET, "each recorded, its detail naming it Talkdesk's");
    // The browser carries that parameter: a sender forging it is refused once ten times the budget is spent (refilled
    // meanwhile at that rate: a bound of 100 leaves room for a slow machine).
    let more = 0;
    while (more < 100 && (await callback('server_error')) !== undefined) more += 1;
    assert.ok(more < 100, 'a forged flood of server_error is refused (429) in the end');
    assert.ok(2 * BUDGET + more >= 10 * BUDGET, `refused after ${2 * BUDGET + more}, not before ten times the budget`);
  });
});
