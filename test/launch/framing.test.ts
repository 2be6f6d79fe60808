import assert from 'node:assert/strict';
import { generateSigningKeySpec, parseSigningKeys } from '../../src/sso/signing-keys';
import { useSystem, type TestSystem } from '../support/system';
import { activeInstallation, asBrowser, launchUrl, TestBrowser } from './helpers';

const TALKDESK = 'https://*.mytalkdesk.com';
const frameAncestors = (res: Response) => /frame-ancestors ([^;]+)/.exec(res.headers.get('content-security-policy') ?? '')?.[1];

/**
 * Framed by Talkdesk (SESSION_COOKIE_SAMESITE=none, APP_FRAME_ANCESTORS): the sign-in runs inside
 * Talkdesk's frame, so every page it can end on allows that frame, not only `/app`. Before, a failure
 * page, the too-many-failures page and the hand-off page said `frame-ancestors 'none'`: inside Talkdesk
 * the user saw a blocked frame instead of what went wrong, and the hand-off never reached the partner.
 */
describe('launch framed by Talkdesk: every page allows APP_FRAME_ANCESTORS', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), {
    launch: {
      sameSite: 'none',
      frameAncestors: [TALKDESK],
      appHomeUrl: 'https://partner.example/td/landing',
      signingKeys: parseSigningKeys(generateSigningKeySpec('k1')),
      failedSignInsPerMinute: 1,
    },
  });

  it('the hand-off page after a sign-in, a failure page and the too-many-failures page', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    sys.simulator.signInAs(installation.id, licensed[0]?.id ?? '');
    const signedIn = await new TestBrowser().open(launchUrl(sys, installation.id));
    assert.equal(signedIn.res.status, 200, signedIn.body.slice(0, 300));
    assert.match(signedIn.body, /<form id="handoff"/);
    assert.equal(frameAncestors(signedIn.res), TALKDESK, 'the hand-off page');

    const failed = await new TestBrowser().open(`${sys.web.url}/launch?talkdesk_installation_id=0000nothere`);
    assert.equal(failed.res.status, 404);
    assert.match(failed.body, /data-reason="unknown_installation"/);
    assert.equal(frameAncestors(failed.res), TALKDESK, 'a failure page');

    const spent = await new TestBrowser().open(`${sys.web.url}/launch?talkdesk_installation_id=0000nothere`);
    assert.equal(spent.res.status, 429, spent.body.slice(0, 300));
    assert.equal(frameAncestors(spent.res), TALKDESK, 'the too-many-failures page');

    const app = await new TestBrowser().open(`${sys.web.url}/app`);
    assert.equal(app.res.status, 401);
    assert.equal(frameAncestors(app.res), TALKDESK, '/app, as before');
  });

  it("a framed navigation is a launch here (judged: the budget spent above answers it 429); another site's image is not (400)", async () => {
    const unknown = '/launch?talkdesk_installation_id=0000nothere';
    assert.equal((await asBrowser(sys, unknown, 'navigate', 'iframe')).status, 429);
    assert.equal((await asBrowser(sys, unknown, 'no-cors', 'image')).status, 400);
  });
});
