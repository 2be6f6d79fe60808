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
});
