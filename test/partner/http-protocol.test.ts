import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { DEFAULT_INSTALLATION_OPTIONS } from '../../workflows/options';
import { createLogger } from '../../src/logging/logger';
import { HttpProvisioner, verifyHookSignature, verifyTimedHook } from '../../src/partner';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { docRecipes } from '../support/partner-recipes';
import { TestPartnerServer } from '../support/partner-server';
import { leakedSecrets } from '../support/secret-scan';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';

const SECRET = 'hook-secret-for-the-protocol-tests';

const OLD_SECRET = 'an-older-hook-secret-still-accepted';
const TIMEOUT_MS = 1_000;
const SEVEN_DAYS = 7 * 24 * 60 * 60 * 1000;
/** A phase ends this long before the seven days (workflow option phaseMarginMs). */
const PHASE_MARGIN = DEFAULT_INSTALLATION_OPTIONS.phaseMarginMs;

describe('HTTP partner hooks on real servers (dev server, FerretDB, simulator, a test partner)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let partner: HttpProvisioner | undefined;
  const server = new TestPartnerServer([OLD_SECRET, SECRET]);
  before(() => server.start());
  useSystem(
    (s) => (sys = s),
    {
      partner: (store, logger) =>
        (partner = new HttpProvisioner({
          url: server.url,
          secrets: [SECRET, OLD_SECRET],
          timeoutMs: TIMEOUT_MS,
          pageSize: 2,
          calls: store.partnerCalls,
          logger,
        })),
    },
    () => server.stop(),
  );
  afterEach(() => {
    server.fallback = undefined;
    server.processingMs = () => 0;
    server.processingUntil = () => undefined;
    server.conflictWhileProcessing = false;
  });

  const install = async (opts: Parameters<TestSystem['simulator']['createInstallation']>[0] = {}, createdAt?: Date) => {
    const created = sys.simulator.createInstallation(opts, createdAt ? { createdAt } : undefined);
    assert.equal(await sys.simulator.deliver(created.event, { callbackUrl: sys.web.callbackUrl }), 200);
    return created;
  };

  it('signs each hook so it verifies with the secret, and sends the protocol body and headers (users paged in order)', async () => {
    const { installation, event } = await install({ licensedUsers: 5 });
    await waitForPhase(sys.client, installation.id, 'active');
    const hooks = server.hooks(undefined, installation.id);
    assert.deepEqual(
      hooks.map((h) => h.body.type),
      ['account.provision', 'account.users', 'account.users'],
    );
    for (const h of hooks) {
      assert.equal(h.signatureValid, true);
      assert.equal(
        verifyHookSignature(h.raw, h.headers['x-appconnect-signature'] as string, [SECRET]),
        true,
        'signed with the first secret',
      );
      assert.equal(verifyHookSignature(h.raw, h.headers['x-appconnect-signature'] as string, [OLD_SECRET]), false);
      // The recipes docs/partner.md gives partners, run as written.
      const sentAt = Number(h.headers['x-appconnect-timestamp']);
      assert.ok(Math.abs(sentAt - h.at / 1000) < 5, 'stamped when sent');
      assert.equal(h.timedSignatureValid, true);
      assert.equal(verifyTimedHook(h.raw, h.headers, [SECRET], sentAt), true, 'timed signature by the first secret');
      assert.equal(verifyTimedHook(h.raw, h.headers, [OLD_SECRET], sentAt), false);
      assert.deepEqual(docRecipes(h.raw, h.headers, [OLD_SECRET, SECRET], sentAt), { js: true, python: true });
      assert.deepEqual(docRecipes(h.raw, h.headers, [OLD_SECRET], sentAt), { js: false, python: false });
      const { 'x-appconnect-signature-v2': _v2, ...unsigned } = h.headers;
      assert.deepEqual(
        docRecipes(h.raw, unsigned, [SECRET], sentAt),
        { js: false, python: false },
        'a missing header is refused, not an error',
      );
      assert.equal(h.headers['idempotency-key'], h.body.id);
      assert.equal(h.headers['content-type'], 'application/json');
      assert.deepEqual(Object.keys(h.body).sort(), ['account_id', 'data', 'id', 'installation_id', 'occurred_at', 'type']);
      assert.equal(h.body.installation_id, installation.id);
      assert.equal(h.body.account_id, event.data.account_id);
      assert.equal(h.body.occurred_at, event.created_at);
    }
    assert.equal(new Set(hooks.map((h) => h.body.id)).size, 3, 'a different id for every call');
    const data = hooks.map((h) => h.body.data as { page: number; pages: number; users: { id: string; role: string }[] });
    assert.deepEqual(
      data.map((d) => [d.page, d.pages, d.users.length]),
      [
        [1, 3, 2],
        [2, 3, 2],
        [3, 3, 1],
      ],
    );
    const sent = data.flatMap((d) => d.users.map((u) => u.id));
    assert.deepEqual(sent, installation.licensedUserIds);
    assert.equal(data[0]?.users[0]?.role, 'admin', 'the installing administrator');
    assert.deepEqual(
      data
        .flatMap((d) => d.users)
        .filter((u) => u.role === 'admin')
        .map((u) => u.id),
      [installation.createdBy],
    );
    // The service keeps its own records too: the partner's id and the user mappings with their roles.
    const account = await sys.store.accounts.getAccount(event.data.account_id);
    assert.equal(account?.partnerAccountId, `pa_${event.data.account_id}`);
    const mappings = await sys.store.accounts.listUsers(event.data.account_id);
    assert.equal(mappings.length, 5);
    assert.deepEqual(
      mappings.filter((m) => m.role === 'admin').map((m) => m.talkdeskUserId),
      [installation.createdBy],
    );
  });

  it('2xx after two 503s is one provision', async () => {
    server.answerNext({ status: 503 }, { status: 503 });
    const { installation, event } = await install({ licensedUsers: 1 });
    await waitForPhase(sys.client, installation.id, 'active');
    const provisions = server.hooks('account.provision', installation.id);
    assert.deepEqual(
      provisions.map((h) => h.status),
      [503, 503, 200],
    );
    assert.equal(new Set(provisions.map((h) => h.body.id)).size, 1, 'the same id on every retry');
    assert.equal(server.accounts.get(event.data.account_id)?.installationId, installation.id);
    assert.equal(sys.simulator.stateCalls(installation.id).length, 1);
  });

  it('a 422 with a reason rejects the install at Talkdesk with that reason, and is not retried', async () => {
    const reason = 'No seats left on plan Basic: upgrade at example.com/billing';
    server.answerNext({ status: 422, body: { reason } });
    const { installation } = await install({ licensedUsers: 1 });
    await waitForPhase(sys.client, installation.id, 'rejected');
    const calls = sys.simulator.stateCalls(installation.id);
    assert.equal(calls.length, 1);
    const body = calls[0]?.body as { state: string; reason: string };
    assert.equal(body.state, 'reject');
    assert.ok(body.reason.includes(reason), `the partner's reason reaches Talkdesk: ${body.reason}`);
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'rejected');
    const provisions = server.hooks('account.provision', installation.id);
    assert.equal(provisions.length, 1, 'a final refusal is not retried');
    const undos = server.hooks('account.undo_provision', installation.id);
    assert.deepEqual(
      undos.map((h) => h.body.data),
      [{ provision_id: provisions[0]?.body.id }],
      'the undo names the provision it undoes',
    );
  });

  it('a page names its provision, a revert the update it reverts (provision_id, update_id)', async () => {
    const { installation } = await install({ licensedUsers: 3 });
    await waitForPhase(sys.client, installation.id, 'active');
    const [provision] = server.hooks('account.provision', installation.id);
    assert.deepEqual(
      server.hooks('account.users', installation.id).map((h) => h.body.data.provision_id),
      [provision?.body.id],
    );
    // The update's approval refused for good: the update is reverted.
    sys.simulator.failNext('installationState', 1, { status: 400 });
    const update = sys.simulator.updateUsers(installation.id, { add: 1 });
    assert.equal(await sys.simulator.deliver(update, { callbackUrl: sys.web.callbackUrl }), 200);
    const revert = await eventually('the revert sent', async () => server.hooks('account.revert_update', installation.id).at(0));
    const updates = server.hooks('account.update', installation.id);
    assert.equal(updates.length, 1);
    assert.equal(revert.body.data.update_id, updates[0]?.body.id);
  });

  it('an undo that overtakes its provision (still processing at the partner after our timeout) leaves no account there', async () => {
    // The partner works on every provision until the undo has arrived (whatever the machine's speed), then commits them.
    let release = () => undefined as void;
    const undoArrived = new Promise<void>((resolve) => (release = resolve));
    server.processingUntil = (b) => (b.type === 'account.provision' ? undoArrived : undefined);
    const { installation, event } = await install({ licensedUsers: 1 });
    await eventually('the provision timed out and retried', async () => server.hooks('account.provision', installation.id).at(1));
    assert.equal(await sys.simulator.deliver(sys.simulator.uninstall(installation.id), { callbackUrl: sys.web.callbackUrl }), 200);
    const undo = await eventually('the undo at the partner', async () => server.hooks('account.undo_provision', installation.id).at(0));
    const [provision] = server.hooks('account.provision', installation.id);
    assert.ok(provision);
    assert.equal(provision.status, 0, 'the undo arrived while the provision was still processing');
    release();
    await waitForPhase(sys.client, installation.id, 'uninstalled');
    await server.settled();
    assert.equal(provision.status, 200, 'the provision committed after the undo');
    assert.equal(server.accounts.has(event.data.account_id), false, 'and changed nothing: no orphan account at the partner');
    assert.equal(undo.body.data.provision_id, provision.body.id);
  });

  it("a slow partner's idempotency middleware answering 409 to our retry (its first request still processing) is waited for, not a refusal", async () => {
    // The first provision takes ten of our timeouts to process (a retry must meet it on a loaded machine too);
    // once done, a retry of its key is answered at once.
    let first = true;
    server.processingMs = (b) => (b.type === 'account.provision' && first ? ((first = false), 10 * TIMEOUT_MS) : 0);
    server.conflictWhileProcessing = true;
    const { installation, event } = await install({ licensedUsers: 1 });
    await waitForPhase(sys.client, installation.id, 'active');
    const provisions = server.hooks('account.provision', installation.id);
    assert.ok(
      provisions.some((h) => h.status === 409),
      `a retry met the 409 (statuses: ${provisions.map((h) => h.status).join(', ')})`,
    );
    assert.equal(new Set(provisions.map((h) => h.body.id)).size, 1, 'every attempt under one key');
    assert.equal(provisions.at(-1)?.status, 200);
    assert.deepEqual(server.hooks('account.undo_provision', installation.id), [], 'nothing undone');
    assert.equal(server.accounts.get(event.data.account_id)?.status, 'active');
    assert.deepEqual(sys.simulator.stateCalls(installation.id).at(-1)?.body, { state: 'approve' });
  });

  it('a 4xx to an update rejects the update at Talkdesk with the reason; the account stays as it was', async () => {
    const { installation, event } = await install({ licensedUsers: 2 });
    await waitForPhase(sys.client, installation.id, 'active');
    const before = (await sys.store.accounts.listUsers(event.data.account_id)).filter((u) => u.active).map((u) => u.talkdeskUserId);
    server.answerNext({ status: 409, body: { reason: 'Plan change not allowed mid-cycle' } });
    assert.equal(
      await sys.simulator.deliver(sys.simulator.updateUsers(installation.id, { add: 1 }), { callbackUrl: sys.web.callbackUrl }),
      200,
    );
    const view = await waitForPhase(sys.client, installation.id, 'active');
    assert.match(view.history.at(-1)?.outcome ?? '', /Plan change not allowed mid-cycle/);
    const last = sys.simulator.stateCalls(installation.id).at(-1)?.body as { state: string; reason: string };
    assert.equal(last.state, 'reject');
    assert.ok(last.reason.includes('Plan change not allowed mid-cycle'));
    const after = (await sys.store.accounts.listUsers(event.data.account_id)).filter((u) => u.active).map((u) => u.talkdeskUserId);
    assert.deepEqual(after, before);
    assert.equal(server.hooks('account.update', installation.id).length, 1, 'not retried');
  });

  it('429 with Retry-After is honoured', async () => {
    server.answerNext({ status: 429, headers: { 'retry-after': '2' } });
    const { installation } = await install({ licensedUsers: 1 });
    await waitForPhase(sys.client, installation.id, 'active');
    const [first, second] = server.hooks('account.provision', installation.id);
    assert.ok(first && second);
    assert.ok(second.at - first.at >= 2_000, `retried after ${second.at - first.at} ms, Retry-After said 2 s`);
  });

  it('a hung partner times out and the call is retried', async () => {
    // Hung for longer than the test runs: its answer never comes.
    server.answerNext({ hangMs: 600_000 });
    const { installation } = await install({ licensedUsers: 1 });
    await waitForPhase(sys.client, installation.id, 'active');
    const [first, second] = server.hooks('account.provision', installation.id);
    assert.ok(first && second);
    assert.equal(first.body.id, second.body.id);
    assert.ok(second.at - first.at >= TIMEOUT_MS, `retried ${second.at - first.at} ms later, after the ${TIMEOUT_MS} ms timeout`);
    assert.equal(first.status, 0, 'the hung call still unanswered: the retry did not wait for it');
  });

  it('a partner down past the deadline ends the install expired; the undo stays outstanding until reconciliation delivers it', async () => {
    server.fallback = { status: 503 };
    // An event close to the end of its seven days: the phase's deadline (less the margin) is 15 s away.
    const { installation, event } = await install({ licensedUsers: 2 }, new Date(Date.now() - SEVEN_DAYS + PHASE_MARGIN + 15_000));
    await waitForPhase(sys.client, installation.id, 'expired', 90_000);
    assert.ok(server.hooks('account.provision', installation.id).length >= 2, 'retried until the deadline');
    const outstanding = await sys.store.partnerCalls.outstanding(installation.id);
    assert.deepEqual(
      outstanding.map((c) => c.type),
      ['account.undo_provision'],
    );
    assert.equal(await sys.store.accounts.getAccount(event.data.account_id), null, "the service's own records are undone at once");
    assert.deepEqual(await sys.store.accounts.listUsers(event.data.account_id), []);
    assert.ok(
      (await sys.store.credentials.list(installation.id)).every((c) => c.status === 'destroyed'),
      'credentials destroyed',
    );

    // The partner is back: the next reconciliation pass delivers the undo (same id as before).
    server.fallback = undefined;
    const acts = createActivities({
      store: sys.store,
      talkdesk: new TalkdeskClient({ allowedHosts: [], timeoutMs: 1_000 }),
      logger: createLogger({ level: 'silent' }),
      partner,
    });
    await new MockActivityEnvironment().run(acts.reconcileInstallations, { installationIds: [installation.id] });
    const undos = server.hooks('account.undo_provision', installation.id);
    assert.equal(undos.at(-1)?.status, 200);
    assert.equal(new Set(undos.map((h) => h.body.id)).size, 1);
    assert.deepEqual(await sys.store.partnerCalls.outstanding(installation.id), []);
    assert.equal(server.accounts.has(event.data.account_id), false, 'nothing left at the partner');
  });

  it('a refused deprovision is recorded and the uninstall still completes', async () => {
    const { installation } = await install({ licensedUsers: 1 });
    await waitForPhase(sys.client, installation.id, 'active');
    server.answerNext({ status: 409, body: { reason: 'account has unpaid invoices' } });
    assert.equal(await sys.simulator.deliver(sys.simulator.uninstall(installation.id), { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, installation.id, 'uninstalled');
    const recorded = await eventually('the refusal recorded', async () =>
      (await sys.store.partnerCalls.forInstallation(installation.id)).at(0),
    );
    assert.equal(recorded.status, 'refused');
    assert.equal(recorded.type, 'account.deprovision');
    assert.equal(recorded.reason, 'account has unpaid invoices');
    assert.equal(server.hooks('account.deprovision', installation.id).length, 1, 'not retried');
  });

  it('no Talkdesk secret or token appears in any hook', async () => {
    // A life of its own (install with users, update, uninstall): then every hook so far, its own and earlier tests'.
    const from = server.received.length;
    const { installation } = await install({ licensedUsers: 3 });
    await waitForPhase(sys.client, installation.id, 'active');
    assert.equal(
      await sys.simulator.deliver(sys.simulator.updateUsers(installation.id, { add: 1 }), { callbackUrl: sys.web.callbackUrl }),
      200,
    );
    await eventually('the update hook', async () => (server.hooks('account.update', installation.id).length > 0 ? true : undefined));
    assert.equal(await sys.simulator.deliver(sys.simulator.uninstall(installation.id), { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, installation.id, 'uninstalled');
    const own = new Set(server.received.slice(from).map((h) => h.body.type));
    assert.ok(
      (['account.provision', 'account.update', 'account.deprovision'] as const).every((t) => own.has(t)),
      JSON.stringify([...own]),
    );
    const secrets = sys.simulator.issuedSecrets().filter((s) => s.length >= 8);
    assert.ok(secrets.length > 0);
    for (const h of server.received) {
      const text = `${h.raw}\n${JSON.stringify(h.headers)}`;
      // Every form: JSON-escaped (a PEM in a raw body), base64, a truncated middle.
      assert.deepEqual(leakedSecrets(text, secrets), [], `hook ${h.body.type} holds a Talkdesk secret`);
    }
  });
});
