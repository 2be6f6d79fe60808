import assert from 'node:assert/strict';
import { MongoNetworkError } from 'mongodb';
import { PartnerUnavailableError, PendingLogoutStore } from '../../src/partner';
import { COLLECTIONS } from '../../src/store/db';
import { LogoutEventStore } from '../../src/store/logout-events';
import { SessionStore } from '../../src/store/sessions';
import type { UserLogoutNotice } from '../../src/web/launch';
import { workflowIdFor } from '../../workflows/definitions';
import { dumpDatabase, leakedSecrets, textOf } from '../support/secret-scan';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';
import { activeInstallation, launchUrl, signIn, TestBrowser } from './helpers';

describe('launch: single sign-out, licences that change, and no secret left behind', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  const notices: UserLogoutNotice[] = [];
  /** The partner's hook fails this many times before it takes a logout. */
  let partnerDownFor = 0;
  /** While set, the partner's hook is slow: it takes (or fails) a logout only once this settles. */
  let partnerSlow: Promise<void> | undefined;
  /** Calls the hook received, each as it began. */
  let hookCalls = 0;
  useSystem((s) => (sys = s), {
    launch: {
      onUserLogout: async (e) => {
        hookCalls += 1;
        await partnerSlow;
        if (partnerDownFor > 0) {
          partnerDownFor -= 1;
          throw new PartnerUnavailableError('the partner answered 503');
        }
        notices.push(e);
      },
      logoutForwardTiming: { firstRetryMs: 200, passIntervalMs: 100 },
    },
  });

  const appStatus = async (b: TestBrowser) => (await b.request(`${sys.web.url}/app`)).status;

  it('user.logout ends every session of that user for that installation, and only theirs; stored, never queued, idempotent', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const [a, b] = licensed;
    assert.ok(a && b);
    const a1 = (await signIn(sys, installation.id, a.id)).browser;
    const a2 = (await signIn(sys, installation.id, a.id)).browser;
    const b1 = (await signIn(sys, installation.id, b.id)).browser;
    // The same user in another installation keeps theirs.
    const other = await activeInstallation(sys);
    const o1 = (await signIn(sys, other.installation.id, other.licensed[0]?.id ?? '')).browser;
    for (const br of [a1, a2, b1, o1]) assert.equal(await appStatus(br), 200);

    const event = sys.simulator.userLogout(installation.id, a.id);
    assert.equal(event.type, 'user.logout');
    assert.equal('app_version_id' in event, false);
    const res = await fetch(sys.web.callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature': sys.simulator.signBody(JSON.stringify(event)) },
      body: JSON.stringify(event),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'accepted', eventId: event.id, sessionsEnded: 2 });
    assert.equal(await appStatus(a1), 401);
    assert.equal(await appStatus(a2), 401);
    assert.equal(await appStatus(b1), 200, 'another user keeps their session');
    assert.equal(await appStatus(o1), 200, 'another installation keeps its sessions');

    const stored = await new LogoutEventStore(sys.store.db).get(event.id);
    assert.ok(stored?.handledAt, 'stored in the inbox and marked handled');
    assert.equal(stored.sessionsEnded, 2);
    assert.equal(await sys.store.db.db.collection(COLLECTIONS.dispatchQueue).countDocuments({ _id: event.id as never }), 0, 'never queued');
    assert.equal(await sys.store.inbox.requeueUndispatched(), 0, 'the requeue scan leaves it alone');
    const lifecycle = await sys.store.inbox.listForInstallation(installation.id);
    assert.ok(
      lifecycle.length > 0 && lifecycle.every((r) => r.type !== ('user.logout' as never) && r.event),
      'reconciliation never resumes a workflow with it',
    );
    await eventually('the partner to have the logout', async () => notices.some((n) => n.eventId === event.id) || undefined);
    assert.deepEqual(notices.at(-1), {
      installationId: installation.id,
      accountId: event.data.account_id,
      talkdeskUserId: a.id,
      email: a.email,
      occurredAt: event.created_at,
      loggedOutAt: new Date(event.created_at).toISOString(), // Talkdesk's time: before its arrival here
      eventId: event.id,
    });

    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200, 'a repeat is answered 200');
    const history = await sys.client.workflow.getHandle(workflowIdFor(installation.id)).fetchHistory();
    assert.ok(!textOf(history).includes(event.id), 'the workflow never saw it');

    const unsigned = await fetch(sys.web.callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
    });
    assert.equal(unsigned.status, 401, 'signed like every event');
  });

  it('a sign-in under way when Talkdesk says the user logged out is refused (signed_out) and leaves no session', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    sys.simulator.signInAs(installation.id, user.id);
    const browser = new TestBrowser();
    // /launch issued its state; the logout arrives before the browser comes back from Talkdesk.
    const launched = await browser.request(launchUrl(sys, installation.id, user.id));
    assert.equal(launched.status, 302);
    const event = sys.simulator.userLogout(installation.id, user.id);
    const res = await fetch(sys.web.callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature': sys.simulator.signBody(JSON.stringify(event)) },
      body: JSON.stringify(event),
    });
    assert.equal(res.status, 200);
    const { res: landed, body } = await browser.open(launched.headers.get('location') ?? '');
    assert.equal(landed.status, 401, body);
    assert.match(body, /data-reason="signed_out"/);
    assert.equal(await appStatus(browser), 401, 'no session');
    const sessions = new SessionStore(sys.store.db);
    assert.equal(await sessions.coll.countDocuments({ installationId: installation.id, talkdeskUserId: user.id }), 0);
    // A sign-in begun after a logout (more than the 5 s clock allowance) goes through.
    const other = licensed[1];
    assert.ok(other);
    await sessions.markLoggedOut(installation.id, other.id, new Date(Date.now() - 60_000));
    const again = await signIn(sys, installation.id, other.id);
    assert.equal(again.status, 200, again.body);
    assert.equal(await appStatus(again.browser), 200);
  });

  it('a partner that cannot take a user.logout gets it again until it does; Talkdesk is answered at once all the same', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const user = licensed[0];
    assert.ok(user);
    const browser = (await signIn(sys, installation.id, user.id)).browser;
    const forwards = async (outcome: string) => {
      const metrics = await (await fetch(`${sys.web.adminUrl}/metrics`)).text();
      return Number(new RegExp(`appconnect_partner_logout_forwards_total\\{outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    };
    const [retriedBefore, deliveredBefore] = [await forwards('retry'), await forwards('delivered')];
    partnerDownFor = 2;
    // The partner slow to answer its first call (a real hook can take its whole timeout): Talkdesk must not wait for it.
    let release = () => {};
    partnerSlow = new Promise<void>((resolve) => (release = resolve));
    const callsBefore = hookCalls;
    const event = sys.simulator.userLogout(installation.id, user.id);
    try {
      assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
      // Answered while the partner's hook still holds the forward: the forward and its retries run after the answer.
      await eventually('the forward to reach the partner', async () => hookCalls > callsBefore || undefined);
      assert.equal(await appStatus(browser), 401, 'the session ended before the partner took the logout');
    } finally {
      partnerSlow = undefined;
      release();
    }
    await eventually('the partner to have the logout', async () => notices.some((n) => n.eventId === event.id) || undefined, 15_000);
    await eventually(
      'the forward to be cleared',
      async () => (await new PendingLogoutStore(sys.store.db).get(event.id)) === null || undefined,
    );
    assert.ok((await forwards('retry')) >= retriedBefore + 2, 'two retries counted');
    assert.equal(await forwards('delivered'), deliveredBefore + 1, 'one delivery counted');
  });

  it("a user.logout whose id is stored for another event (a lifecycle event, another user's logout) is refused 409 event_id_conflict: no session ended", async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const [a, b] = licensed;
    assert.ok(a && b);
    const browser = (await signIn(sys, installation.id, b.id)).browser;
    const first = sys.simulator.userLogout(installation.id, a.id);
    assert.equal(await sys.simulator.deliver(first, { callbackUrl: sys.web.callbackUrl }), 200);
    const [lifecycle] = await sys.store.inbox.listForInstallation(installation.id);
    assert.ok(lifecycle);
    for (const id of [first.id, lifecycle._id]) {
      const event = { ...sys.simulator.userLogout(installation.id, b.id), id };
      const res = await fetch(sys.web.callbackUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature': sys.simulator.signBody(JSON.stringify(event)) },
        body: JSON.stringify(event),
      });
      const body = (await res.json()) as { error?: { code?: string } };
      assert.equal(res.status, 409, JSON.stringify(body));
      assert.equal(body.error?.code, 'event_id_conflict');
    }
    assert.equal(await appStatus(browser), 200, "b's session is kept");
    assert.equal((await new LogoutEventStore(sys.store.db).get(first.id))?.logout.talkdeskUserId, a.id, 'the stored logout unchanged');
  });

  // A MongoError, and a driver or socket failure of another class (seen while MongoDB was cut off under load).
  for (const [what, failure, logged] of [
    ['a MongoError', () => new MongoNetworkError('connection reset (test)'), 'user.logout not handled: MongoDB unavailable'],
    ['any other error', () => new TypeError('socket hang up (test)'), 'user.logout not handled: unexpected error'],
  ] as const)
    it(`a user.logout whose store step fails (${what}) is answered 503 store_unavailable, and taken on redelivery`, async () => {
      const { installation, licensed } = await activeInstallation(sys);
      const a = licensed[0]!;
      const browser = (await signIn(sys, installation.id, a.id)).browser;
      const event = sys.simulator.userLogout(installation.id, a.id);
      const post = () =>
        fetch(sys.web.callbackUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hub-signature': sys.simulator.signBody(JSON.stringify(event)) },
          body: JSON.stringify(event),
        });
      const insert = LogoutEventStore.prototype.insert;
      try {
        LogoutEventStore.prototype.insert = () => Promise.reject(failure());
        const res = await post();
        const body = (await res.json()) as { error?: { code?: string } };
        assert.equal(res.status, 503, JSON.stringify(body));
        assert.equal(body.error?.code, 'store_unavailable');
        assert.equal(res.headers.get('retry-after'), '30');
      } finally {
        LogoutEventStore.prototype.insert = insert;
      }
      assert.ok(
        sys.logLines.some((l) => l.includes(logged) && l.includes(event.id)),
        logged,
      );
      assert.equal(await appStatus(browser), 200, 'nothing ended yet');
      const again = await post();
      assert.equal(again.status, 200);
      assert.equal(await appStatus(browser), 401, 'the redelivery ended the session');
    });

  it('an uninstall ends every session of the installation; a user removed by app.updated loses theirs', async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 3 });
    const [a, b, c] = licensed;
    assert.ok(a && b && c);
    const ba = (await signIn(sys, installation.id, a.id)).browser;
    const bb = (await signIn(sys, installation.id, b.id)).browser;
    const bc = (await signIn(sys, installation.id, c.id)).browser;

    const removal = sys.simulator.updateUsers(installation.id, { remove: [c.id] });
    assert.equal(await sys.simulator.deliver(removal, { callbackUrl: sys.web.callbackUrl }), 200);
    assert.equal(await appStatus(bc), 401, 'the removed user at once');
    assert.equal(await appStatus(ba), 200);
    await waitForPhase(sys.client, installation.id, 'active');
    // Signing in again is refused: the licence is gone here and at Talkdesk.
    sys.simulator.signInAs(installation.id, c.id);
    assert.equal((await new TestBrowser().open(launchUrl(sys, installation.id))).res.status, 403);
    // A repeat of the removal, once handed over, ends no session opened since (the user added back).
    await new SessionStore(sys.store.db).open(
      { installationId: installation.id, accountId: 'acct', talkdeskUserId: c.id, role: 'user' },
      60_000,
    );
    const userSessions = () =>
      sys.store.db.db.collection(COLLECTIONS.sessions).countDocuments({ installationId: installation.id, talkdeskUserId: c.id });
    assert.equal(await sys.simulator.deliver(removal, { callbackUrl: sys.web.callbackUrl }), 200);
    assert.equal(await userSessions(), 1, 'a repeat ends nothing');

    assert.equal(await sys.simulator.deliver(sys.simulator.uninstall(installation.id), { callbackUrl: sys.web.callbackUrl }), 200);
    assert.equal(await appStatus(ba), 401);
    assert.equal(await appStatus(bb), 401);
    assert.equal(await sys.store.db.db.collection(COLLECTIONS.sessions).countDocuments({ installationId: installation.id }), 0);
  });

  it('a user licensed after install signs in: through app.updated, or known only at Talkdesk', async () => {
    const { installation } = await activeInstallation(sys, { licensedUsers: 1 });
    const licensedCalls = () =>
      sys.simulator.calls.filter((c) => c.route === 'licensedUsers' && c.installationId === installation.id).length;

    const update = sys.simulator.updateUsers(installation.id, { add: 1 });
    const viaEvent = update.data.users?.adding[0] ?? '';
    assert.equal(await sys.simulator.deliver(update, { callbackUrl: sys.web.callbackUrl }), 200);
    await eventually(
      'the new user mapped',
      async () => (await sys.store.accounts.users.findOne({ _id: `${update.data.account_id}:${viaEvent}`, active: true })) ?? undefined,
    );
    await waitForPhase(sys.client, installation.id, 'active');
    const before = licensedCalls();
    const first = await signIn(sys, installation.id, viaEvent);
    assert.equal(first.status, 200, first.body.slice(0, 300));
    assert.equal(licensedCalls(), before, 'found in the mappings the update wrote');

    // Licensed at Talkdesk, its app.updated never delivered: read from Talkdesk once.
    const silent = sys.simulator.updateUsers(installation.id, { add: 2 });
    const [onlyAtTalkdesk = '', other = ''] = silent.data.users?.adding ?? [];
    const second = await signIn(sys, installation.id, onlyAtTalkdesk);
    assert.equal(second.status, 200, second.body.slice(0, 300));
    assert.equal(licensedCalls(), before + 1);
    // Only the user signing in is written: the workflow's app.updated owns the others' mappings.
    assert.equal(await sys.store.accounts.users.findOne({ _id: `${silent.data.account_id}:${other}` }), null);
    const account = await sys.store.accounts.getAccount(silent.data.account_id);
    assert.ok(account?.licensedUsers?.ids.includes(onlyAtTalkdesk) && !account.licensedUsers.ids.includes(other));
  });

  it('no code, token or secret in logs, MongoDB documents or Temporal histories after launches', async () => {
    const { installation, licensed } = await activeInstallation(sys);
    const ours: string[] = [];
    for (const u of licensed.slice(0, 2)) {
      sys.simulator.signInAs(installation.id, u.id);
      const browser = new TestBrowser();
      const launch = await browser.request(launchUrl(sys, installation.id));
      const state = new URL(launch.headers.get('location') ?? '').searchParams.get('state') ?? '';
      ours.push(state, browser.jar.get('appconnect_sso')?.value ?? '');
      const { res } = await browser.open(launch.headers.get('location') ?? '');
      assert.equal(res.status, 200);
      ours.push(browser.jar.get('appconnect_session')?.value ?? '');
    }
    const secrets = [...sys.simulator.issuedSecrets(), ...ours];
    const codes = sys.simulator.calls.filter((c) => c.route === 'authorize').length;
    assert.ok(codes >= 2 && ours.every((s) => s.length >= 40), 'codes, user tokens, states and session ids are among the secrets');

    const histories: string[] = [];
    for (const id of [installation.id]) {
      const handle = sys.client.workflow.getHandle(workflowIdFor(id));
      histories.push(textOf(await handle.fetchHistory()));
    }
    const dump = await dumpDatabase(sys.store.db.db);
    for (const name of ['sessions', 'sso_states', 'sso_links']) assert.ok((dump.collections[name] ?? 0) > 0, `${name} was scanned`);
    // Positive controls: the texts scanned hold what they should, so an empty capture cannot pass.
    assert.ok(
      sys.logLines.some((l) => l.includes(installation.id)),
      `the logs were captured (${sys.logLines.length} lines)`,
    );
    assert.ok(
      histories.every((h) => h.includes(installation.id)),
      'the histories were decoded',
    );
    const where = { logs: sys.logLines.join('\n'), mongodb: dump.text, histories: histories.join('\n') };
    for (const [place, text] of Object.entries(where)) assert.deepEqual(leakedSecrets(text, secrets), [], `${place} holds a secret`);
  });
});
