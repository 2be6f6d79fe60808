import assert from 'node:assert/strict';
import { parseEvent, toLifecycleEvent } from '../../src/events/schemas';
import { MongoProvisioner } from '../../src/partner/mongodb';
import { COLLECTIONS } from '../../src/store/db';
import { SessionStore } from '../../src/store/sessions';
import { postCallback } from '../support/callback-client';
import type { TestSystem } from '../support/system';
import { activeInstallation, signIn, useLaunchSystemWorkerRestarted } from './helpers';

/**
 * A removal (or an uninstall) the workflow has not applied yet: the worker is stopped, as when Temporal
 * is down or the partner's update hook retries for hours. The callback's mark refuses the sign-in at once.
 */
describe('launch: a user removed at Talkdesk cannot sign in before the workflow applies it', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useLaunchSystemWorkerRestarted((s) => (sys = s));

  const sessionsOf = (installationId: string, talkdeskUserId?: string) =>
    sys.store.db.db.collection(COLLECTIONS.sessions).countDocuments({ installationId, ...(talkdeskUserId ? { talkdeskUserId } : {}) });

  it('app.updated removing a user: refused (Talkdesk no longer lists them), others sign in; a later write of the mapping outdates the mark', async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 3 });
    const [, b, c] = licensed;
    assert.ok(b && c);
    await sys.stopWorker();

    const removal = sys.simulator.updateUsers(installation.id, { remove: [c.id] });
    assert.equal(await sys.simulator.deliver(removal, { callbackUrl: sys.web.callbackUrl }), 200);
    const accountId = removal.data.account_id;
    const mapping = await sys.store.accounts.users.findOne({ _id: `${accountId}:${c.id}` });
    assert.equal(mapping?.active, true, 'not applied: the workflow is not running');

    const refused = await signIn(sys, installation.id, c.id);
    assert.equal(refused.status, 403, refused.body.slice(0, 300));
    assert.match(refused.body, /data-reason="not_licensed"/);
    assert.equal(await sessionsOf(installation.id, c.id), 0);
    // Clicking again shares that read, begun after the removal (before: a full read of Talkdesk's list per click).
    const readsBefore = sys.simulator.calls.filter((x) => x.route === 'licensedUsers').length;
    assert.equal((await signIn(sys, installation.id, c.id)).status, 403);
    assert.equal(sys.simulator.calls.filter((x) => x.route === 'licensedUsers').length, readsBefore, 'no second read');
    assert.equal((await signIn(sys, installation.id, b.id)).status, 200, 'a user the event does not name');

    // The user added back (as the workflow's next update writes it): the mark is outdated, no Talkdesk read.
    await sys.store.accounts.upsertUsers(accountId, installation.id, [{ id: c.id, email: 'c@example.com', name: 'C' }]);
    const reads = sys.simulator.calls.filter((x) => x.route === 'licensedUsers').length;
    assert.equal((await signIn(sys, installation.id, c.id)).status, 200);
    assert.equal(sys.simulator.calls.filter((x) => x.route === 'licensedUsers').length, reads);
  });

  /** With the worker stopped, `c` removed at Talkdesk (the callback marks it), then an update adding `c` applied with `ctx`. */
  async function removedThenAdded(times: (removal: { created_at: string }) => { occurredAt: string; receivedAt: string }) {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 3 });
    const [, , c] = licensed;
    assert.ok(c);
    await sys.stopWorker();
    const removal = sys.simulator.updateUsers(installation.id, { remove: [c.id] });
    assert.equal(await sys.simulator.deliver(removal, { callbackUrl: sys.web.callbackUrl }), 200);
    const accountId = removal.data.account_id;
    const update = {
      accountId,
      installationId: installation.id,
      usersAdded: [{ id: c.id, email: 'c@example.com', name: 'C', role: 'user' as const }],
      usersRemoved: [],
    };
    await new MongoProvisioner(sys.store).update(update, { key: `add-${c.id}`, ...times(removal), signal: new AbortController().signal });
    return { installation, c };
  }

  const expectRefused = async (installationId: string, userId: string) => {
    const refused = await signIn(sys, installationId, userId);
    assert.equal(refused.status, 403, refused.body.slice(0, 300));
    assert.match(refused.body, /data-reason="not_licensed"/, "Talkdesk's list, read, no longer names the user");
    assert.equal(await sessionsOf(installationId, userId), 0);
  };

  it('an update received before the removal, applied after the removal was marked, does not outdate the mark: refused', async () => {
    // An earlier app.updated (adding c) whose partner step retried until now.
    const earlier = new Date(Date.now() - 60_000).toISOString();
    const { installation, c } = await removedThenAdded(() => ({ occurredAt: earlier, receivedAt: earlier }));
    await expectRefused(installation.id, c.id);
  });

  it('an update created before the removal but received after it (redelivered late), applied first: refused', async () => {
    const { installation, c } = await removedThenAdded((removal) => ({
      occurredAt: new Date(Date.parse(removal.created_at) - 60_000).toISOString(),
      receivedAt: new Date().toISOString(),
    }));
    await expectRefused(installation.id, c.id);
  });

  it("held only by a removal created after the facts' event, the user Talkdesk still lists signs in (the read clears it)", async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const [, b] = licensed;
    assert.ok(b);
    const accountId = (await sys.store.accounts.findByInstallation(installation.id))!._id;
    const now = Date.now();
    const at = (s: number) => new Date(now + s * 1_000);
    // b's facts came from an update created at -120 s, received now; a removal created at -90 s was received at -60 s.
    const update = { accountId, installationId: installation.id, usersAdded: [{ id: b.id, role: 'user' as const }], usersRemoved: [] };
    const times = { occurredAt: at(-120).toISOString(), receivedAt: at(0).toISOString() };
    await new MongoProvisioner(sys.store).update(update, { key: `add-${b.id}`, ...times, signal: new AbortController().signal });
    await new SessionStore(sys.store.db).markRemoved(installation.id, at(-60), [b.id], at(-90));
    const reads = () => sys.simulator.calls.filter((x) => x.route === 'licensedUsers' && x.installationId === installation.id).length;
    const before = reads();
    const answer = await signIn(sys, installation.id, b.id);
    assert.equal(answer.status, 200, answer.body.slice(0, 300));
    assert.equal(reads(), before + 1, "held by the mark: Talkdesk's list read, and it lists b");
  });

  it("a removal marked after the user was added back (delivered out of order): Talkdesk's list decides, and the mapping written then outdates the mark", async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const [, b] = licensed;
    assert.ok(b);
    // As the callback marks an older app.updated removing b, delivered after the one that added b back.
    await new SessionStore(sys.store.db).markRemoved(installation.id, new Date(), [b.id]);
    const reads = () => sys.simulator.calls.filter((x) => x.route === 'licensedUsers' && x.installationId === installation.id).length;
    const before = reads();
    const first = await signIn(sys, installation.id, b.id);
    assert.equal(first.status, 200, first.body.slice(0, 300));
    assert.equal(reads(), before + 1, "Talkdesk's list read once: it still lists b");
    assert.equal((await signIn(sys, installation.id, b.id)).status, 200);
    assert.equal(reads(), before + 1, 'the mapping written then outdates the mark');
  });

  /**
   * A removal of `c` stored two minutes ago and not handed over (its first delivery answered 503), the worker and the
   * dispatcher stopped; `marked`: that delivery marked the removal before it failed. Returns the event to deliver again.
   */
  async function removalStoredNotHandedOver(marked: boolean) {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 3 });
    const [, , c] = licensed;
    assert.ok(c);
    await sys.stopWorker();
    await sys.web.dispatcher.stop();
    const removal = sys.simulator.updateUsers(installation.id, { remove: [c.id] }, { createdAt: new Date(Date.now() - 180_000) });
    // Provisioned ten minutes ago: c's facts are older than the removal.
    const old = new Date(Date.now() - 600_000);
    await sys.store.accounts.users.updateOne({ _id: `${removal.data.account_id}:${c.id}` }, { $set: { factsAt: old, factsEventAt: old } });
    // Installed ten minutes ago too: the removal is of this life, not an earlier one's (callback-hooks.ts).
    const installed = await sys.store.db.db
      .collection(COLLECTIONS.installations)
      .updateOne({ _id: installation.id as never }, { $set: { installEventAt: old.toISOString() } });
    assert.equal(installed.modifiedCount, 1);
    const parsed = parseEvent(removal);
    assert.ok(parsed.ok);
    const first = new Date(Date.now() - 120_000);
    const stored = { _id: removal.id, installationId: installation.id, type: removal.type, createdAt: new Date(removal.created_at) };
    await sys.store.inbox.insert({ ...stored, receivedAt: first, event: toLifecycleEvent(parsed.event) }, undefined, { queue: false });
    if (marked) await new SessionStore(sys.store.db).markRemoved(installation.id, first, [c.id], new Date(removal.created_at));
    const deliverAgain = async () => {
      const again = await postCallback(sys.web.callbackUrl, removal);
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.json, { status: 'duplicate', eventId: removal.id, dispatched: true }, 'a repeat not handed over before');
    };
    return { installation, c, removal, deliverAgain };
  }

  it('a removal delivered again after a 503 ends only the sessions begun by its first arrival: not one of the user added back since', async () => {
    try {
      const { installation, c, removal, deliverAgain } = await removalStoredNotHandedOver(true);
      // A newer update adding c back, made and received a minute ago, applied: c signs in (the mark is older than its facts).
      const accountId = removal.data.account_id;
      const added = { accountId, installationId: installation.id, usersAdded: [{ id: c.id, role: 'user' as const }], usersRemoved: [] };
      const times = { occurredAt: new Date(Date.now() - 60_000).toISOString(), receivedAt: new Date(Date.now() - 60_000).toISOString() };
      await new MongoProvisioner(sys.store).update(added, { key: `add-${c.id}`, ...times, signal: new AbortController().signal });
      const signedIn = await signIn(sys, installation.id, c.id);
      assert.equal(signedIn.status, 200, signedIn.body.slice(0, 300));

      await deliverAgain();
      assert.equal(await sessionsOf(installation.id, c.id), 1, 'the session begun after the first arrival is kept');
      const reads = sys.simulator.calls.filter((x) => x.route === 'licensedUsers').length;
      assert.equal((await signIn(sys, installation.id, c.id)).status, 200, 'the mark stays at the first arrival');
      assert.equal(sys.simulator.calls.filter((x) => x.route === 'licensedUsers').length, reads, "no read of Talkdesk's list");
    } finally {
      sys.web.dispatcher.start();
    }
  });

  it('a removal delivered again after a 503 that came before its mark ends a session begun since by the user it removes', async () => {
    try {
      const { installation, c, deliverAgain } = await removalStoredNotHandedOver(false);
      // No mark, the mapping still active: the sign-in went through after the first arrival.
      const signedIn = await signIn(sys, installation.id, c.id);
      assert.equal(signedIn.status, 200, signedIn.body.slice(0, 300));
      await deliverAgain();
      assert.equal(await sessionsOf(installation.id, c.id), 0, 'ended: not added back since');
    } finally {
      sys.web.dispatcher.start();
    }
  });

  it('a removal delivered again after a 503: a user added back by an older update (delivered out of order) loses the session begun since', async () => {
    try {
      const { installation, c, removal, deliverAgain } = await removalStoredNotHandedOver(false);
      // An update made before the removal, received after its first arrival, applied: c's facts are newer on our clock only.
      const added = {
        accountId: removal.data.account_id,
        installationId: installation.id,
        usersAdded: [{ id: c.id, role: 'user' as const }],
        usersRemoved: [],
      };
      const times = {
        occurredAt: new Date(Date.parse(removal.created_at) - 60_000).toISOString(),
        receivedAt: new Date(Date.now() - 60_000).toISOString(),
      };
      await new MongoProvisioner(sys.store).update(added, { key: `add-${c.id}`, ...times, signal: new AbortController().signal });
      assert.equal((await signIn(sys, installation.id, c.id)).status, 200, 'no mark yet');
      await deliverAgain();
      assert.equal(await sessionsOf(installation.id, c.id), 0, 'ended: the removal is the newer event');
    } finally {
      sys.web.dispatcher.start();
    }
  });

  it('a removal pending while Talkdesk cannot be asked: the sign-in fails with that reason and leaves no session', async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const [, b] = licensed;
    assert.ok(b);
    await new SessionStore(sys.store.db).markRemoved(installation.id, new Date(), [b.id]);
    sys.simulator.failNext('licensedUsers', 1, { status: 500 });
    const failed = await signIn(sys, installation.id, b.id);
    assert.equal(failed.status, 502, failed.body.slice(0, 300));
    assert.match(failed.body, /data-reason="talkdesk_refused"/);
    assert.equal(await sessionsOf(installation.id, b.id), 0, 'the session it opened is ended');
  });

  it('app.uninstalled: no user of the installation signs in, though its record is still active', async () => {
    const { installation, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const [a] = licensed;
    assert.ok(a);
    await sys.stopWorker();
    assert.equal(await sys.simulator.deliver(sys.simulator.uninstall(installation.id), { callbackUrl: sys.web.callbackUrl }), 200);
    assert.equal((await sys.store.installations.get(installation.id))?.phase, 'active', 'not applied');

    const refused = await signIn(sys, installation.id, a.id);
    assert.equal(refused.status, 409, refused.body.slice(0, 300));
    assert.match(refused.body, /data-reason="installation_inactive"/);
    assert.equal(await sessionsOf(installation.id), 0);
  });

  it("an earlier life's app.uninstalled delivered after a same-id reinstall ends that life's sessions only, none begun since", async () => {
    const { installation, event, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const user = licensed[0]!;
    assert.equal((await signIn(sys, installation.id, user.id)).status, 200);
    // Another installation's uninstall, made this one's and dated a minute before its install.
    const other = sys.simulator.createInstallation().installation;
    const late = sys.simulator.uninstall(other.id, undefined, { createdAt: new Date(Date.parse(event.created_at) - 60_000) });
    const stale = { ...late, data: { ...late.data, installation_id: installation.id, account_id: installation.accountId } };
    // A session of that earlier life, begun before its uninstall, is still that uninstall's to end.
    const older = licensed[1]!;
    const before = new Date(Date.parse(late.created_at) - 60_000);
    await new SessionStore(sys.store.db).open(
      { installationId: installation.id, accountId: installation.accountId, talkdeskUserId: older.id, role: 'user', signInAt: before },
      60_000,
    );
    assert.equal((await postCallback(sys.web.callbackUrl, stale)).status, 200);
    assert.equal(await sessionsOf(installation.id, user.id), 1, 'before: every session of the live installation ended');
    assert.equal(await sessionsOf(installation.id, older.id), 0, "the earlier life's session ended");
    assert.equal((await signIn(sys, installation.id, user.id)).status, 200, 'and a sign-in is not refused');
  });

  it("an earlier life's app.updated removing a user, delivered after a same-id reinstall, ends that life's sessions only and holds no sign-in", async () => {
    const { installation, event, licensed } = await activeInstallation(sys, { licensedUsers: 2 });
    const user = licensed[0]!;
    assert.equal((await signIn(sys, installation.id, user.id)).status, 200);
    // Another installation's update, made this one's removal of `user` and dated a minute before its install.
    const other = sys.simulator.createInstallation().installation;
    const late = sys.simulator.updateUsers(other.id, { add: 1 }, { createdAt: new Date(Date.parse(event.created_at) - 60_000) });
    const data = { ...late.data, installation_id: installation.id, account_id: installation.accountId, users: { removing: [user.id] } };
    const stale = { ...late, data };
    const before = new Date(Date.parse(late.created_at) - 60_000);
    await new SessionStore(sys.store.db).open(
      { installationId: installation.id, accountId: installation.accountId, talkdeskUserId: user.id, role: 'user', signInAt: before },
      60_000,
    );
    assert.equal(await sessionsOf(installation.id, user.id), 2);
    assert.equal((await postCallback(sys.web.callbackUrl, stale)).status, 200);
    assert.equal(await sessionsOf(installation.id, user.id), 1, "the earlier life's session ended, the live one kept");
    const reads = sys.simulator.calls.filter((x) => x.route === 'licensedUsers').length;
    assert.equal((await signIn(sys, installation.id, user.id)).status, 200);
    assert.equal(
      sys.simulator.calls.filter((x) => x.route === 'licensedUsers').length,
      reads,
      'no removal mark to clear: no Talkdesk read',
    );
  });
});
