import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { activeInstallation, signIn } from './helpers';

/** Unlicensed agents opening the app: each miss reads the licensed users from Talkdesk, shared per installation. */
describe('launch: the licensed-users read of a sign-in that misses is shared', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  // Shared two minutes here: four sign-ins on a loaded machine may take longer than the default 15 s.
  useSystem((s) => (sys = s), { launch: { licensedReadReuseMs: 120_000 } });

  it('sign-ins missing together or just after make one Talkdesk read (one token, one listing), all refused', async () => {
    const { installation, unlicensed } = await activeInstallation(sys);
    const user = unlicensed[0];
    assert.ok(user);
    const calls = (route: string) => sys.simulator.calls.filter((c) => c.route === route && c.installationId === installation.id).length;
    const [listingsBefore, tokensBefore] = [calls('licensedUsers'), calls('token')];
    const together = await Promise.all([1, 2, 3].map(() => signIn(sys, installation.id, user.id)));
    const after = await signIn(sys, installation.id, user.id);
    for (const s of [...together, after]) {
      assert.equal(s.status, 403, s.body.slice(0, 300));
      assert.match(s.body, /data-reason="not_licensed"/);
    }
    // Before, every miss read Talkdesk again: four token requests with apps:read and four listings.
    assert.equal(calls('licensedUsers'), listingsBefore + 1);
    // Four sign-ins' code exchanges, and one token for the shared read.
    assert.equal(calls('token'), tokensBefore + 4 + 1);
  });

  it("Talkdesk's 429 on the listing: 503 talkdesk_busy with its Retry-After; sign-ins during the pause do not ask Talkdesk, after it they do", async () => {
    const { installation, unlicensed } = await activeInstallation(sys);
    const [user, other] = unlicensed;
    assert.ok(user && other);
    const calls = (route: string) => sys.simulator.calls.filter((c) => c.route === route && c.installationId === installation.id).length;
    const listingsBefore = calls('licensedUsers');
    sys.simulator.failNext('licensedUsers', 1, { status: 429, retryAfterSeconds: 3 });
    const busy = await signIn(sys, installation.id, user.id);
    assert.equal(busy.status, 503, busy.body.slice(0, 300));
    assert.match(busy.body, /data-reason="talkdesk_busy"/);
    assert.equal(busy.headers.get('retry-after'), '3', "Talkdesk's pause, passed on");
    assert.equal(calls('licensedUsers'), listingsBefore + 1);
    // Another agent during the pause (a fresh read too would be refused): answered from the 429, Talkdesk not asked.
    const during = await signIn(sys, installation.id, other.id);
    assert.match(during.body, /data-reason="talkdesk_busy"/);
    const left = Number(during.headers.get('retry-after'));
    assert.ok(left >= 1 && left <= 3, `what is left of the pause: ${left}`);
    assert.equal(calls('licensedUsers'), listingsBefore + 1, 'no listing during the pause');
    // Once it has passed, the next miss reads Talkdesk again, and is told the truth.
    const deadline = Date.now() + 30_000;
    let last = during;
    while (/data-reason="talkdesk_busy"/.test(last.body) && Date.now() < deadline) last = await signIn(sys, installation.id, user.id);
    assert.match(last.body, /data-reason="not_licensed"/, last.body.slice(0, 300));
    assert.equal(calls('licensedUsers'), listingsBefore + 2, 'one listing after the pause');
  });
});
