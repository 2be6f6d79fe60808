import assert from 'node:assert/strict';
import { useDirectPartner } from '../support/direct-partner';
import { eventually } from '../support/waits';
import { PartnerUnavailableError } from '../../src/partner/errors';

const SECRET = 'hook-secret-for-the-superseded-undo';

/**
 * An install's undo the partner did not take is kept outstanding for reconciliation to deliver. When a newer
 * install of the same installation id provisions meanwhile, that undo must not be delivered after it (it
 * names the same installation and account: the partner would remove the live account): the provision
 * delivers it first. FerretDB and a test partner; the HTTP provisioner called directly.
 */
describe('an outstanding undo of an earlier install is delivered before a newer provision (http provisioner)', function () {
  this.timeout(60_000);
  const env = useDirectPartner(SECRET);
  const { server } = env;

  const ctx = (key: string, undoes?: string) => ({
    key,
    occurredAt: new Date().toISOString(),
    signal: new AbortController().signal,
    ...(undoes ? { undoes } : {}),
  });
  const provision = (installationId: string, accountId: string, key: string) =>
    env.partner.provision(
      { account: { accountId, installationId, appId: 'app-1', name: 'Acme' }, users: [{ id: 'u1', role: 'admin' }], createdBy: 'u1' },
      ctx(key),
    );

  it("a reinstall's provision delivers the first install's undo before itself; while the partner does not take it, and for the same provision, the undo stays outstanding", async () => {
    const installationId = `inst-${Date.now()}`;
    const accountId = `acct-${Date.now()}`;
    // The first install's undo, while the partner is down: kept outstanding.
    server.fallback = { status: 503 };
    await env.partner.undoProvision({ installationId, accountId }, ctx('hk-undo-1', 'hk-provision-1'));
    server.fallback = undefined;
    assert.deepEqual(
      (await env.h.store.partnerCalls.outstanding(installationId)).map((c) => c.type),
      ['account.undo_provision'],
    );

    // A retry of that same provision (its key) does not send its own undo before it.
    await provision(installationId, accountId, 'hk-provision-1');
    assert.equal((await env.h.store.partnerCalls.outstanding(installationId)).length, 1);
    assert.equal(server.hooks('account.undo_provision', installationId).length, 1, 'only the first attempt (503)');

    // The partner down: the reinstall's provision is not sent, since the old undo could not go first.
    server.fallback = { status: 503 };
    // The owed undo's 503: the provision waits (retried as the partner being unavailable), never refused for good.
    await assert.rejects(provision(installationId, accountId, 'hk-provision-2'), (err: unknown) => err instanceof PartnerUnavailableError);
    assert.equal(server.hooks('account.undo_provision', installationId).length, 2, 'the owed undo was tried first');
    server.fallback = undefined;
    assert.equal((await env.h.store.partnerCalls.outstanding(installationId)).length, 1, 'still owed');
    assert.equal(server.hooks('account.provision', installationId).filter((x) => x.body.id === 'hk-provision-2').length, 0);

    // The reinstall provisions: the old undo first, then the provision; nothing is left for a pass to send after it.
    await provision(installationId, accountId, 'hk-provision-2');
    assert.deepEqual(await env.h.store.partnerCalls.outstanding(installationId), []);
    const order = server.received
      .filter((x) => x.body.installation_id === installationId && x.status === 200)
      .map((x) => `${x.body.type} ${x.body.id}`);
    assert.deepEqual(order.slice(-2), ['account.undo_provision hk-undo-1', 'account.provision hk-provision-2']);
    assert.equal(await env.partner.retryOutstanding(installationId), 0);
    assert.ok(server.accounts.has(accountId), "the reinstall's account is at the partner");
  });

  it('an undo kept outstanding by one attempt and taken by the next is delivered: reconciliation does not send it again', async () => {
    const installationId = `inst-${Date.now()}-retried`;
    const accountId = `acct-${Date.now()}-retried`;
    server.fallback = { status: 503 };
    await env.partner.undoProvision({ installationId, accountId }, ctx('hk-undo-r', 'hk-provision-r'));
    server.fallback = undefined;
    assert.equal((await env.h.store.partnerCalls.outstanding(installationId)).length, 1);
    // The activity's next attempt (a later step of the first failed) sends the same undo, and the partner takes it.
    await env.partner.undoProvision({ installationId, accountId }, ctx('hk-undo-r', 'hk-provision-r'));
    assert.deepEqual(await env.h.store.partnerCalls.outstanding(installationId), []);
    assert.deepEqual(await env.h.store.partnerCalls.forInstallation(installationId), [], 'not shown to operators as outstanding');
    assert.equal(await env.partner.retryOutstanding(installationId), 0);
    assert.deepEqual(
      server.hooks('account.undo_provision', installationId).map((hook) => hook.status),
      [503, 200],
      'sent by the two attempts, not again',
    );
  });
  it("a resend pass does not send again an undo a reinstall's provision delivered while the pass's earlier sends were under way", async () => {
    const inst = 'inst-resend';
    const body = (id: string, type: string, data: Record<string, unknown>) =>
      JSON.stringify({ id, type, installation_id: inst, account_id: 'acct-resend', occurred_at: '2026-12-05T17:30:00Z', data });
    await env.h.store.partnerCalls.keepOutstanding({
      id: 'resend-deprovision',
      installationId: inst,
      type: 'account.deprovision',
      body: body('resend-deprovision', 'account.deprovision', {}),
      lastError: 'timed out',
    });
    await new Promise((r) => setTimeout(r, 5)); // the undo is the later of the two
    await env.h.store.partnerCalls.keepOutstanding({
      id: 'resend-undo',
      installationId: inst,
      type: 'account.undo_provision',
      body: body('resend-undo', 'account.undo_provision', { provision_id: 'prov-old' }),
      lastError: 'timed out',
    });
    // The first resend is slow at the partner; meanwhile a reinstall's provision is accepted.
    server.processingMs = (b) => (b.installation_id === inst && b.type === 'account.deprovision' ? 500 : 0);
    try {
      const pass = env.partner.retryOutstanding(inst);
      await eventually('the first resend', async () => server.hooks('account.deprovision', inst).length > 0 || undefined, 5_000);
      // The reinstall's provision delivers the owed undo before itself (deliverEarlierUndos), while the pass waits.
      await env.partner.provision(
        { account: { accountId: 'acct-resend', installationId: inst, appId: 'app-1', name: 'Acme' }, users: [{ id: 'u1', role: 'admin' }] },
        ctx('hk-provision-resend'),
      );
      assert.equal(await pass, 0);
    } finally {
      server.processingMs = () => 0;
    }
    assert.equal(server.hooks('account.undo_provision', inst).length, 1, 'sent once, by the provision, not again by the pass');
    assert.deepEqual(
      server
        .hooks(undefined, inst)
        .map((x) => x.body.type)
        .filter((t) => t !== 'account.deprovision'),
      ['account.undo_provision', 'account.provision'],
      'the undo before the provision',
    );
    assert.deepEqual(await env.h.store.partnerCalls.outstanding(inst), []);
  });
});
