import assert from 'node:assert/strict';
import { MongoNetworkError } from 'mongodb';
import { SessionStore } from '../../src/store/sessions';
import { postCallback } from '../support/callback-client';
import type { TestSystem } from '../support/system';
import { activeInstallation, signIn, useLaunchSystemWorkerRestarted, type TestBrowser } from './helpers';

/**
 * The callback marks a logout, a removal or an uninstall, then ends the sessions: when that end fails (MongoDB
 * gone for a moment, answered 503), the mark is written and `/app` reads it, so the session ends at its next page,
 * not when Talkdesk delivers the event again (minutes) or the backstop runs. The worker is stopped for the removal
 * and the uninstall, as when Temporal is down: the installation's record and the mapping still say active.
 */
describe('launch: /app ends a session that a written mark outdates, when ending it failed', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useLaunchSystemWorkerRestarted((s) => (sys = s));
  const appStatus = async (b: TestBrowser) => (await b.request(`${sys.web.url}/app`)).status;

  /** One delivery of `event` with `SessionStore.prototype[step]` failing as MongoDB cut off: answered 503. */
  async function deliverWhileEndFails(step: 'endForUser' | 'endForUsers' | 'endForInstallation', event: unknown) {
    const proto = SessionStore.prototype as unknown as Record<string, unknown>;
    const original = proto[step];
    try {
      proto[step] = () => Promise.reject(new MongoNetworkError('connection reset (test)'));
      const res = await postCallback(sys.web.callbackUrl, event);
      assert.equal(res.status, 503, res.text);
    } finally {
      proto[step] = original;
    }
  }

  it('user.logout: the session ends at its next page; a sign-in after a logout stands', async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const [a, b] = licensed;
    assert.ok(a && b);
    const [browserA, browserB] = [(await signIn(sys, installation.id, a.id)).browser, (await signIn(sys, installation.id, b.id)).browser];
    assert.equal(await appStatus(browserA), 200);
    await deliverWhileEndFails('endForUser', sys.simulator.userLogout(installation.id, a.id));
    assert.equal(await appStatus(browserA), 401, 'signed out by the mark');
    assert.equal(await appStatus(browserB), 200, 'another user signed in is not');
    // A logout dated a minute ago (the user signed out then, and back in since): its mark is older than a sign-in now.
    const earlier = sys.simulator.userLogout(installation.id, b.id, { createdAt: new Date(Date.now() - 60_000).toISOString() });
    assert.equal((await postCallback(sys.web.callbackUrl, earlier)).status, 200);
    const again = await signIn(sys, installation.id, b.id);
    assert.equal(again.status, 200, again.body.slice(0, 300));
    assert.equal(await appStatus(again.browser), 200, 'a sign-in begun after the logout is not ended by its mark');
  });

  it('app.updated removing a user: their session ends at its next page, the others stay', async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const [a, b] = licensed;
    assert.ok(a && b);
    const [browserA, browserB] = [(await signIn(sys, installation.id, a.id)).browser, (await signIn(sys, installation.id, b.id)).browser];
    await sys.stopWorker();
    const removal = sys.simulator.updateUsers(installation.id, { remove: [a.id] });
    await deliverWhileEndFails('endForUsers', removal);
    const mapping = await sys.store.accounts.users.findOne({ _id: `${removal.data.account_id}:${a.id}` });
    assert.equal(mapping?.active, true, 'not applied: the workflow is not running');
    assert.equal(await appStatus(browserA), 401, 'ended by the removal mark');
    assert.equal(await appStatus(browserB), 200);
  });

  it('app.uninstalled: every session ends at its next page, though the record still says active', async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const browsers = await Promise.all(licensed.map(async (u) => (await signIn(sys, installation.id, u.id)).browser));
    await sys.stopWorker();
    await deliverWhileEndFails('endForInstallation', sys.simulator.uninstall(installation.id));
    assert.equal((await sys.store.installations.get(installation.id))?.phase, 'active', 'not applied');
    for (const b of browsers) assert.equal(await appStatus(b), 401);
  });

  it("a user whose mapping is now another installation's (a reinstall of the account under a new id) is signed out", async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const [a] = licensed;
    assert.ok(a);
    const { browser } = await signIn(sys, installation.id, a.id);
    assert.equal(await appStatus(browser), 200);
    const accountId = installation.accountId;
    // As the new installation's provision writes them: the account's list and the user's mapping are its own.
    await sys.store.db.db
      .collection('accounts')
      .updateOne({ _id: accountId as never }, { $set: { 'licensedUsers.installationId': 'the-new-installation' } });
    await sys.store.accounts.users.updateOne({ _id: `${accountId}:${a.id}` }, { $set: { installationId: 'the-new-installation' } });
    assert.equal(await appStatus(browser), 401);
  });
});
