import assert from 'node:assert/strict';
import { LogoutEventStore } from '../../src/store/logout-events';
import { SessionStore } from '../../src/store/sessions';
import type { UserLogoutNotice } from '../../src/web/launch';
import { postCallback } from '../support/callback-client';
import { useSystem, type TestSystem } from '../support/system';
import { eventually } from '../support/waits';
import { activeInstallation, signIn, TestBrowser } from './helpers';

/** Which sessions a user.logout ends, by its time: Talkdesk's clock, ours, and when it first arrived. */
describe('launch: the time a user.logout counts from', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  const notices: UserLogoutNotice[] = [];
  useSystem((s) => (sys = s), { launch: { onUserLogout: async (e) => void notices.push(e) } });

  const appStatus = async (b: TestBrowser) => (await b.request(`${sys.web.url}/app`)).status;

  it('a user.logout delivered late (or again after a 503) ends the sessions begun before it, not one the user opened since', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const [a] = licensed;
    assert.ok(a);
    const sessions = new SessionStore(sys.store.db);
    // A session of an earlier version (no signInAt): ended, as before.
    const earlier = { installationId: installation.id, accountId: 'acct', talkdeskUserId: a.id, role: 'user' as const };
    await sessions.open(earlier, 60_000);
    const since = (await signIn(sys, installation.id, a.id)).browser;
    const event = sys.simulator.userLogout(installation.id, a.id, { createdAt: new Date(Date.now() - 60_000).toISOString() });
    const res = await postCallback(sys.web.callbackUrl, event);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'accepted', eventId: event.id, sessionsEnded: 1 }, 'only the earlier one');
    assert.equal(await appStatus(since), 200, 'the session opened after the logout is kept');
    // The next sign-in is judged by the same rule: begun after the logout, it goes through.
    assert.equal((await signIn(sys, installation.id, a.id)).status, 200);
  });

  it("a user.logout delivered again after a 503 is timed from its first arrival: with Talkdesk's clock ahead, a session opened since is kept", async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const [a] = licensed;
    assert.ok(a);
    // Talkdesk's clock two minutes ahead of ours (the callback accepts up to five).
    const event = sys.simulator.userLogout(installation.id, a.id, { createdAt: new Date(Date.now() + 120_000).toISOString() });
    // Its first delivery, a minute ago, was owed and then failed before anything else was written (answered 503).
    const firstArrival = new Date(Date.now() - 60_000);
    const logouts = new LogoutEventStore(sys.store.db);
    await logouts.owe(event.id, firstArrival);
    const since = (await signIn(sys, installation.id, a.id)).browser;
    const res = await postCallback(sys.web.callbackUrl, event);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'accepted', eventId: event.id, sessionsEnded: 0 }, 'the session began after the logout');
    assert.equal(await appStatus(since), 200, 'the session opened after the first arrival is kept');
    assert.equal((await signIn(sys, installation.id, a.id)).status, 200, 'a sign-in now is not refused as signed out');
    // Stored with it too: the backstop, should this handling have failed, times it from the record.
    assert.deepEqual((await logouts.get(event.id))?.receivedAt, firstArrival);
    // The partner judges its own sessions by the same time (a late hook must not end the one opened since).
    const notice = await eventually('the partner to get it', async () => notices.find((n) => n.eventId === event.id));
    assert.deepEqual([notice.occurredAt, notice.loggedOutAt], [event.created_at, firstArrival.toISOString()]);
  });

  it('a user.logout dated before the retention window or far ahead of our clock is refused like any event: nothing stored, sessions kept', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const [a] = licensed;
    assert.ok(a);
    const browser = (await signIn(sys, installation.id, a.id)).browser;
    const logouts = new LogoutEventStore(sys.store.db);
    for (const [createdAt, code] of [
      ['2019-01-01T00:00:00Z', 'event_too_old'],
      ['2099-01-01T00:00:00Z', 'event_from_future'],
    ] as const) {
      const event = sys.simulator.userLogout(installation.id, a.id, { createdAt });
      const res = await postCallback(sys.web.callbackUrl, event);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json?.error?.code, code);
      assert.equal(res.json?.error?.field, 'created_at');
      assert.equal(await logouts.get(event.id), null, 'nothing stored');
    }
    assert.equal(await appStatus(browser), 200, 'the session is kept');
  });
});
