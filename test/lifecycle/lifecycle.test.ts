import assert from 'node:assert/strict';
import { eventSignal, workflowIdFor } from '../../workflows/definitions';
import { toLifecycleEvent, parseEvent } from '../../src/events/schemas';
import { HAND_OVER_TIMEOUT_MS, startInstallation } from '../../src/handover/start';
import { postCallback } from '../support/callback-client';
import { FAST_OPTIONS, useSystem, type TestSystem } from '../support/system';
import { eventually, finalView, holdsFor, queryState, waitForPhase } from '../support/waits';

describe('the whole lifecycle of an installation (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  // The reverse-order test delivers its uninstall first: a 2 s grace could end before its install is
  // delivered on a loaded machine. The grace ends as soon as the install arrives, so nothing waits longer.
  useSystem((s) => (sys = s), { workflowOptions: { orderingGraceMs: 15_000 } });

  const deliver = async (event: unknown) => {
    const status = await sys.simulator.deliver(event as never, { callbackUrl: sys.web.callbackUrl });
    assert.ok(status === 200, `delivery answered ${status}`);
  };
  const settled = async (installationId: string, phase: string, predicate: (v: Awaited<ReturnType<typeof queryState>>) => boolean) =>
    eventually(`installation ${installationId} settled`, async () => {
      const v = await waitForPhase(sys.client, installationId, phase);
      return predicate(v) ? v : undefined;
    });

  it('install → update → rotation → trial (started, extended, ended) → uninstall → reinstall restores the settings', async () => {
    const accountName = `life${Date.now().toString(36)}`;
    const { installation, event } = sys.simulator.createInstallation({ accountName, licensedUsers: 4 });
    const accountId = event.data.account_id;
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');
    await sys.store.accounts.updateSettings(accountId, { theme: 'dark', dashboards: ['calls'] });

    const before = await sys.store.accounts.listUsers(accountId);
    const removed = before[0]!.talkdeskUserId;
    const update = sys.simulator.updateInstallation(installation.id, {
      addUsers: 2,
      removeUsers: [removed],
      subscription: { name: 'pro', licenses: 25 },
    });
    await deliver(update);
    const afterUpdate = await settled(installation.id, 'active', (v) => v.appliedEvents === 2);
    assert.deepEqual([afterUpdate.history.at(-1)?.phase, afterUpdate.history.at(-1)?.result], ['updating', 'approved']);
    const users = await sys.store.accounts.listUsers(accountId);
    assert.equal(users.filter((u) => u.active).length, 5);
    assert.equal(users.find((u) => u.talkdeskUserId === removed)?.active, false);
    const account = await sys.store.accounts.getAccount(accountId);
    assert.deepEqual(account?.subscription?.adding, { name: 'pro', licenses: 25 });

    const rotation = sys.simulator.rotateCredentials(installation.id);
    await deliver(rotation);
    const afterRotation = await settled(installation.id, 'active', (v) => v.activeClientId === rotation.data.client_id);
    assert.equal(afterRotation.retiringCredentials[0]?.clientId, event.data.client_id);

    const trialStart = sys.simulator.startTrial(installation.id, new Date(Date.now() + 14 * 86_400_000));
    await deliver(trialStart);
    const extension = sys.simulator.extendTrial(installation.id, new Date(Date.now() + 30 * 86_400_000));
    await deliver(extension);
    const afterExtension = await settled(installation.id, 'active', (v) => v.trial?.expiresAt === extension.data.expires_at);
    assert.equal(afterExtension.trial?.startedAt, trialStart.created_at, 'an extension keeps the trial it extends');
    assert.equal((await sys.store.accounts.getAccount(accountId))?.trial?.expiresAt, extension.data.expires_at);
    await deliver(sys.simulator.endTrial(installation.id, { reason: 'plan_upgraded', by: 'user' }));
    const afterTrial = await settled(installation.id, 'active', (v) => v.trial?.endedReason === 'plan_upgraded');
    assert.equal(afterTrial.trial?.endedBy, 'user');
    assert.equal((await sys.store.accounts.getAccount(accountId))?.trial?.endedReason, 'plan_upgraded');

    await deliver(sys.simulator.uninstall(installation.id));
    const done = await finalView(sys.client, installation.id);
    assert.equal(done.phase, 'uninstalled');
    assert.equal((await sys.store.accounts.getAccount(accountId))?.status, 'disabled');
    const creds = await sys.store.credentials.list(installation.id);
    assert.ok(creds.length > 0 && creds.every((c) => c.status === 'destroyed' && !c.secret), 'every set kept, destroyed');

    // Every Talkdesk call of this installation, in order, as Talkdesk saw them.
    assert.deepEqual(
      sys.simulator.stateCalls(installation.id).map((c) => [c.status, c.body]),
      [
        [200, { state: 'approve' }], // install
        [200, { state: 'approve' }], // update
        [200, { state: 'approve' }], // uninstall acknowledged
      ],
    );
    const acks = sys.simulator.credentialsStateCalls(installation.id);
    assert.equal(acks.length, 1);
    assert.deepEqual(acks[0]?.body, { state: 'acknowledged' });
    assert.equal(acks[0]?.path.includes(rotation.data.client_id), true);
    assert.equal(acks[0]?.clientId, rotation.data.client_id, "acknowledged with the new set's token: the set is proven");
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'revoked');

    // Reinstall in the same Talkdesk account: a new installation finds the settings.
    const again = sys.simulator.createInstallation({ accountName });
    assert.equal(again.event.data.account_id, accountId);
    await deliver(again.event);
    const reinstalled = await waitForPhase(sys.client, again.installation.id, 'active');
    assert.equal(reinstalled.settingsRestored, true);
    assert.deepEqual([reinstalled.history.at(-1)?.result, reinstalled.history.at(-1)?.detail], ['approved', 'settings restored']);
    assert.deepEqual((await sys.store.accounts.getSettings(accountId))?.settings, { theme: 'dark', dashboards: ['calls'] });
    const acct = await sys.store.accounts.getAccount(accountId);
    assert.equal(acct?.status, 'provisioned');
    assert.equal(acct?.installationId, again.installation.id);
    assert.equal(acct?.settingsRestored, true);
  });

  it('an uninstall during provisioning interrupts it: nothing provisioned then or later, the uninstall acknowledged, the install never approved', async () => {
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 10 });
    // Talkdesk asks provisioning to come back in a minute: the uninstall surely arrives while it waits, however
    // loaded the machine. (An activity cancelled mid-call is covered by test/workflows/ on the time-skipping server.)
    sys.simulator.failNext('licensedUsers', 1, { status: 429, retryAfterSeconds: 60 });
    const provisioning = sys.simulator.waitForCall((c) => c.route === 'licensedUsers' && c.installationId === installation.id);
    await deliver(event);
    await provisioning;
    await deliver(sys.simulator.uninstall(installation.id));
    const done = await finalView(sys.client, installation.id);
    assert.equal(done.phase, 'uninstalled');
    const installing = done.history.find((h) => h.phase === 'installing');
    assert.deepEqual([installing?.result, installing?.detail], ['interrupted', 'uninstall']);
    // Once no Talkdesk call of the installation is in flight, a straggling activity would have had its
    // answers and could write: for a while after that, nothing may be provisioned again.
    await eventually('no Talkdesk call of the installation in flight', async () =>
      sys.simulator.calls.filter((c) => c.installationId === installation.id).every((c) => c.status !== 0) ? true : undefined,
    );
    // Nothing was provisioned before the uninstall (the users' read waited): none is, then or later.
    const nothingProvisioned = async () =>
      (await sys.store.accounts.getAccount(event.data.account_id)) === null &&
      (await sys.store.accounts.listUsers(event.data.account_id)).length === 0;
    await holdsFor('the account stays unprovisioned', nothingProvisioned, 2_000);
    assert.deepEqual(
      sys.simulator.stateCalls(installation.id).map((c) => c.body),
      [{ state: 'approve' }],
      'only the uninstall is acknowledged; the install is never approved',
    );
  });

  it('an uninstall while the approval is retried undoes the provisioning (the account removed, not only disabled)', async () => {
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 2 });
    sys.simulator.failNext('installationState', 100_000, { status: 500 });
    await deliver(event);
    await eventually('the account provisioned', async () =>
      (await sys.store.accounts.getAccount(event.data.account_id)) ? true : undefined,
    );
    await deliver(sys.simulator.uninstall(installation.id));
    // The uninstall's own acknowledgement must get through.
    await eventually('the install interrupted', async () => {
      const view = await queryState(sys.client, installation.id);
      return view.history.some((h) => h.phase === 'installing' && h.result === 'interrupted') ? true : undefined;
    });
    sys.simulator.clearFaults();
    const done = await finalView(sys.client, installation.id);
    assert.equal(done.phase, 'uninstalled');
    // Undone: the account and its users gone (a deprovision alone would leave them, disabled).
    assert.equal(await sys.store.accounts.getAccount(event.data.account_id), null, 'the provisioning undone');
    assert.deepEqual(await sys.store.accounts.listUsers(event.data.account_id), []);
    assert.deepEqual(
      sys.simulator
        .stateCalls(installation.id)
        .filter((c) => c.status === 200)
        .map((c) => c.body),
      [{ state: 'approve' }],
      'only the uninstall is acknowledged',
    );
  });

  it('an update that arrives before the install is approved waits its turn', async () => {
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 2 });
    sys.simulator.failNext('installationState', 1, { delayMs: 1_500 });
    await deliver(event);
    const update = sys.simulator.updateUsers(installation.id, { add: 3 });
    await deliver(update);
    await eventually('the update queued while the install is under way', async () => {
      const v = await queryState(sys.client, installation.id);
      return v.phase === 'installing' && v.pendingEvents.includes(`app.updated ${update.id}`) ? v : undefined;
    });
    const view = await settled(installation.id, 'active', (v) => v.appliedEvents === 2);
    assert.deepEqual(
      view.history.map((h) => [h.phase, h.result]),
      [
        ['installing', 'approved'],
        ['updating', 'approved'],
      ],
    );
    assert.equal((await sys.store.accounts.listUsers(event.data.account_id)).filter((u) => u.active).length, 5);
    const [install, updated] = sys.simulator.stateCalls(installation.id);
    assert.equal(sys.simulator.stateCalls(installation.id).length, 2);
    assert.ok(updated!.at.getTime() >= install!.at.getTime() + 1_500, "the update's approval after the install's was answered");
  });

  it('events delivered in reverse order end as Talkdesk ends: uninstalled', async () => {
    const t0 = Date.now() - 60_000;
    const { installation, event } = sys.simulator.createInstallation({}, { createdAt: new Date(t0) });
    const update = sys.simulator.updateUsers(installation.id, { add: 1 }, { createdAt: new Date(t0 + 1_000) });
    const uninstall = sys.simulator.uninstall(installation.id, undefined, { createdAt: new Date(t0 + 2_000) });
    await deliver(uninstall);
    await deliver(update);
    await deliver(event);
    const done = await finalView(sys.client, installation.id);
    assert.equal(done.phase, 'uninstalled');
    assert.equal(done.history.at(-1)?.result, 'acknowledged');
    // (A loaded machine can make the simulator deliver one again: recorded as a duplicate delivery, not here.)
    assert.deepEqual(
      done.ignoredEvents
        .filter((e) => /superseded/.test(e.reason))
        .map((e) => e.eventId)
        .sort(),
      [event.id, update.id].sort(),
      'the superseded install and update are recorded, not applied',
    );
    assert.ok(
      done.ignoredEvents.every((e) => /superseded|duplicate delivery/.test(e.reason)),
      JSON.stringify(done.ignoredEvents),
    );
    assert.deepEqual(
      sys.simulator.stateCalls(installation.id).map((c) => c.body),
      [{ state: 'approve' }],
    );
    assert.equal(await sys.store.accounts.getAccount(event.data.account_id), null, 'nothing was ever provisioned');
    // A late re-delivery of the old install does not resurrect the installation: answered as a duplicate, no new run.
    const runId = (await sys.client.workflow.getHandle(workflowIdFor(installation.id)).describe()).runId;
    const raw = JSON.stringify(event);
    const again = await postCallback(sys.web.callbackUrl, raw, { signature: sys.simulator.signBody(raw) });
    assert.equal(again.status, 200);
    assert.equal(again.json?.status, 'duplicate', again.text);
    assert.equal((await sys.client.workflow.getHandle(workflowIdFor(installation.id)).describe()).runId, runId, 'no new run');
    assert.equal(await sys.store.accounts.getAccount(event.data.account_id), null);
  });

  it('the same update delivered twice is applied once', async () => {
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 1 });
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');
    const update = sys.simulator.updateUsers(installation.id, { add: 2 });
    await deliver(update);
    await deliver(update); // answered as a duplicate by the inbox
    // And a second hand-over of the same event straight to the workflow (a dispatcher retry).
    const parsed = parseEvent(update);
    assert.ok(parsed.ok);
    await sys.client.workflow.getHandle(workflowIdFor(installation.id)).signal(eventSignal, toLifecycleEvent(parsed.event));
    const view = await settled(installation.id, 'active', (v) => v.ignoredEvents.some((e) => e.eventId === update.id));
    assert.equal(view.appliedEvents, 2);
    assert.equal(view.ignoredEvents.find((e) => e.eventId === update.id)?.reason, 'duplicate delivery');
    assert.equal(sys.simulator.stateCalls(installation.id).length, 2, 'install and one update approval');
    assert.equal((await sys.store.inbox.listForInstallation(installation.id)).length, 2);
  });

  it('a compromised rotation destroys the old credentials at once', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');
    const rotation = sys.simulator.rotateCredentials(installation.id, { compromised: true });
    await deliver(rotation);
    const view = await settled(installation.id, 'active', (v) => v.activeClientId === rotation.data.client_id);
    assert.equal(view.retiringCredentials.length, 0);
    const old = await sys.store.credentials.get(installation.id, event.data.client_id);
    assert.equal(old?.status, 'destroyed');
    assert.equal(old?.secret, undefined);
    assert.deepEqual([view.history.at(-1)?.result, view.history.at(-1)?.detail], ['rotated', 'compromised']);
  });

  it('sends each approval once when Talkdesk acted but its answer was lost (client timeout)', async () => {
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 1 });
    const lateApproval = (n: number) => {
      // The call takes effect at Talkdesk at once but answers after the client's 3 s timeout.
      sys.simulator.failNext('installationState', 1, { delayMs: 4_500 });
      return sys.simulator
        .waitForCall((c) => c.route === 'installationState' && c.installationId === installation.id && c.status === 200, 30_000)
        .then(() =>
          eventually(`approval ${n} recorded`, async () => (sys.simulator.stateCalls(installation.id).length >= n ? true : undefined)),
        );
    };
    // Reads of the installation from the first state call on: the provisioning's earlier read (of `created_by`) is not a check.
    const checks = () => {
      const first = sys.simulator.calls.findIndex((c) => c.route === 'installationState' && c.installationId === installation.id);
      return first < 0
        ? 0
        : sys.simulator.calls.slice(first).filter((c) => c.route === 'installation' && c.installationId === installation.id).length;
    };

    let answered = lateApproval(1);
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active', 60_000);
    await answered;
    assert.equal(checks(), 1, 'the retry read the state once');

    answered = lateApproval(2);
    await deliver(sys.simulator.updateUsers(installation.id, { add: 1 }));
    await settled(installation.id, 'active', (v) => v.appliedEvents === 2);
    await answered;
    assert.equal(checks(), 2);

    answered = lateApproval(3);
    await deliver(sys.simulator.uninstall(installation.id));
    const done = await finalView(sys.client, installation.id);
    await answered;
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(
      done.history.map((h) => [h.phase, h.result]),
      [
        ['installing', 'approved'],
        ['updating', 'approved'],
        ['uninstalling', 'acknowledged'],
      ],
    );
    assert.equal(sys.simulator.stateCalls(installation.id).length, 3, 'one state call per phase, none repeated');
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'revoked');
  });

  it('an event handed over again after its workflow completed is never applied again', async () => {
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 1 });
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');
    const uninstall = sys.simulator.uninstall(installation.id);
    await deliver(uninstall);
    assert.equal((await finalView(sys.client, installation.id)).phase, 'uninstalled');
    // Describe reads the latest run directly (the visibility list can lag).
    const latestRun = async () => (await sys.client.workflow.getHandle(workflowIdFor(installation.id)).describe()).runId;
    const firstRun = await latestRun();
    const stored = await sys.store.installations.get(installation.id);
    assert.ok(stored?.handledEventIds?.includes(uninstall.id), 'the record lists the uninstall as handled');

    // 1. The uninstall was handed over but never marked (MongoDB failed just then); Talkdesk redelivers it.
    await sys.store.db.db.collection('inbox').updateOne({ _id: uninstall.id as never }, { $unset: { dispatchedAt: '' } });
    await deliver(uninstall);
    assert.ok((await sys.store.inbox.get(uninstall.id))?.dispatchedAt, 'marked handed over without a new run');
    assert.equal(await latestRun(), firstRun, 'no second run was started');

    // 2. A hand-over that skips that check (an older web process) starts a new run: it applies nothing.
    const parsed = parseEvent(uninstall);
    assert.ok(parsed.ok);
    const target = { client: sys.client, taskQueue: sys.taskQueue, workflowOptions: FAST_OPTIONS };
    await startInstallation(target, toLifecycleEvent(parsed.event), HAND_OVER_TIMEOUT_MS.reconciliation);
    const second = await finalView(sys.client, installation.id);
    assert.equal(second.phase, 'uninstalled');
    assert.equal(second.appliedEvents, 0);
    assert.deepEqual(second.ignoredEvents, [{ eventId: uninstall.id, reason: 'already handled by an earlier run' }]);
    assert.notEqual(await latestRun(), firstRun);
    assert.deepEqual(
      sys.simulator.stateCalls(installation.id).map((c) => c.body),
      [{ state: 'approve' }, { state: 'approve' }],
      'install approved and uninstall acknowledged, once each',
    );
  });
});
