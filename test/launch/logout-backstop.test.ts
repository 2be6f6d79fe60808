import assert from 'node:assert/strict';
import { MongoNetworkError } from 'mongodb';
import { PendingLogoutStore } from '../../src/partner';
import { COLLECTIONS } from '../../src/store/db';
import { LogoutEventStore } from '../../src/store/logout-events';
import { SessionStore } from '../../src/store/sessions';
import type { UserLogoutNotice } from '../../src/web/launch';
import { postCallback } from '../support/callback-client';
import { useSystem, type TestSystem } from '../support/system';
import { eventually } from '../support/waits';
import { activeInstallation, signIn, type TestBrowser } from './helpers';

/**
 * A user.logout stored whose handling then failed (the store cut off between its steps) and that Talkdesk
 * never delivered again: the backstop pass handles it (here after 5 s instead of 16 minutes, every 200 ms: a
 * window wide enough for the checks made before it, on a busy machine too).
 */
describe('launch: a stored user.logout no redelivery took is handled by the backstop pass', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  const notices: UserLogoutNotice[] = [];
  useSystem((s) => (sys = s), {
    launch: {
      onUserLogout: async (e) => void notices.push(e),
      logoutBackstop: { passMs: 200, afterMs: 5_000 },
      logoutForwardTiming: { firstRetryMs: 200, passIntervalMs: 100 },
    },
  });
  const appStatus = async (b: TestBrowser) => (await b.request(`${sys.web.url}/app`)).status;

  for (const step of ['markLoggedOut', 'endForUser'] as const)
    it(`ends the sessions, forwards it and marks it handled when ${step} failed after the event was stored`, async () => {
      const { installation, licensed } = await activeInstallation(sys);
      const user = licensed[0];
      assert.ok(user);
      const browser = (await signIn(sys, installation.id, user.id)).browser;
      // Without milliseconds, as Talkdesk often sends it: forwarded as sent, by the backstop too.
      const event = sys.simulator.userLogout(installation.id, user.id, { createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
      // The prototype's method replaced for the one delivery (the web process runs in this process).
      const proto = SessionStore.prototype as unknown as Record<string, unknown>;
      const original = proto[step];
      try {
        proto[step] = () => Promise.reject(new MongoNetworkError('connection reset (test)'));
        assert.equal((await postCallback(sys.web.callbackUrl, event)).status, 503);
      } finally {
        proto[step] = original;
      }
      const logouts = new LogoutEventStore(sys.store.db);
      const stored = await logouts.get(event.id);
      assert.ok(stored && !stored.handledAt, 'stored, not handled: no redelivery comes');
      // Its mark written before ending the session failed: /app reads it. Not written: the session lives until the backstop.
      if (step === 'endForUser') assert.equal(await appStatus(browser), 401, 'ended at its next page by the mark');
      else assert.equal(await appStatus(browser), 200, 'the session lives on until the backstop');

      const handled = await eventually('the backstop to handle it', async () => (await logouts.get(event.id))?.handledAt, 30_000);
      assert.ok(handled);
      assert.equal(await appStatus(browser), 401, 'signed out');
      assert.equal((await logouts.get(event.id))?.sessionsEnded, step === 'endForUser' ? 0 : 1, 'none left when /app ended it');
      const notice = await eventually('the partner to get it', async () => notices.find((n) => n.eventId === event.id));
      assert.equal(notice.occurredAt, event.created_at, 'occurred_at as Talkdesk sent it');
      assert.ok(sys.logLines.some((l) => l.includes('handled by the backstop pass') && l.includes(event.id)));
      // A redelivery now is a duplicate.
      const again = await postCallback(sys.web.callbackUrl, event);
      assert.deepEqual([again.status, (again.json as { status?: string } | undefined)?.status], [200, 'duplicate']);
    });

  it('does not forward again a logout whose forward was kept (and delivered) before its handling failed', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0]!;
    const browser = (await signIn(sys, installation.id, user.id)).browser;
    const event = sys.simulator.userLogout(installation.id, user.id);
    const proto = LogoutEventStore.prototype as unknown as Record<string, unknown>;
    const original = proto.markHandled;
    try {
      proto.markHandled = () => Promise.reject(new MongoNetworkError('connection reset (test)'));
      assert.equal((await postCallback(sys.web.callbackUrl, event)).status, 503);
    } finally {
      proto.markHandled = original;
    }
    assert.equal(await appStatus(browser), 401, 'its sessions ended before the failure');
    const logouts = new LogoutEventStore(sys.store.db);
    await eventually('the backstop to mark it handled', async () => (await logouts.get(event.id))?.handledAt, 30_000);
    const pending = new PendingLogoutStore(sys.store.db);
    await eventually('no forward pending', async () =>
      (await pending.due(new Date(Date.now() + 86_400_000))).length === 0 ? true : undefined,
    );
    assert.equal(notices.filter((n) => n.eventId === event.id).length, 1, 'forwarded once');
    assert.equal(await sys.store.db.db.collection(COLLECTIONS.logoutsOwed).countDocuments({ _id: event.id as never }), 0, 'nothing owed');
  });

  it('handles a logout an older version stored and left unhandled (no owed marker): owed once by the backstop, then handled', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0]!;
    const browser = (await signIn(sys, installation.id, user.id)).browser;
    const event = sys.simulator.userLogout(installation.id, user.id);
    // As a version before logouts_owed stored it (its handling failed, Talkdesk gave up): no owed marker.
    await sys.store.db.db.collection(COLLECTIONS.inbox).insertOne({
      _id: event.id as never,
      installationId: installation.id,
      type: 'user.logout',
      createdAt: new Date(event.created_at),
      receivedAt: new Date(),
      logout: { accountId: installation.accountId, talkdeskUserId: user.id },
    });
    await sys.store.db.db.collection(COLLECTIONS.storeMarkers).deleteOne({ _id: 'logouts-owed-backfilled' as never });
    const logouts = new LogoutEventStore(sys.store.db);
    await eventually('the backstop to handle it', async () => (await logouts.get(event.id))?.handledAt, 30_000);
    assert.equal(await appStatus(browser), 401, 'signed out');
    await eventually('the partner to get it', async () => notices.find((n) => n.eventId === event.id));
    assert.ok(sys.logLines.some((l) => l.includes('an older version left unhandled')));
  });
});
