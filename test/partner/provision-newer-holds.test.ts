import assert from 'node:assert/strict';
import { createLogger } from '../../src/logging/logger';
import { HttpProvisioner } from '../../src/partner';
import { startActivityHarness, type ActivityHarness, type Installing } from '../support/activity-harness';
import { TestPartnerServer } from '../support/partner-server';

const SECRET = 'hook-secret-for-the-newer-holds-tests';

/**
 * An earlier installation's provision retried after a newer installation of the same Talkdesk account provisioned it
 * (the earlier one's uninstall delivered late). The service's own records refuse it; over HTTP the hook must not be
 * sent first: a partner that does not check `occurred_at` would take the account back, and the refused install's undo
 * then remove the account the newer installation uses.
 */
describe("an earlier installation's provision after a newer one provisioned the account (HTTP provisioner)", function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  const server = new TestPartnerServer([SECRET]);
  before(async () => {
    await server.start();
    h = await startActivityHarness({
      partner: (store) =>
        new HttpProvisioner({
          url: server.url,
          secrets: [SECRET],
          timeoutMs: 5_000,
          pageSize: 500,
          calls: store.partnerCalls,
          logger: createLogger({ level: 'silent' }),
        }),
    });
  });
  after(async () => {
    await h?.close();
    await server.stop();
  });

  /** The account provisioned by another installation whose install event is `offsetMs` from this one's. */
  async function heldByAnother(i: Installing, offsetMs: number) {
    const eventAt = new Date(Date.parse(i.installed.createdAt) + offsetMs);
    const accountId = i.installation.accountId;
    await h.store.accounts.upsertAccount({
      accountId,
      installationId: 'inst-other',
      appId: 'app1',
      name: 'Acme',
      provisionKey: 'k-other',
      eventAt,
    });
    return accountId;
  }
  const provision = (i: Installing) =>
    h.run(h.acts.provisionAccount, { ...i.ref, accountName: '', eventId: i.event.id, occurredAt: i.installed.createdAt });
  const provisionHooks = (installationId: string) =>
    server.hooks(undefined, installationId).filter((x) => x.body.type === 'account.provision');

  it('a newer installation holds it: refused before any hook, the account left as it is', async () => {
    const i = await h.installing(1);
    const accountId = await heldByAnother(i, 3_600_000);
    await assert.rejects(provision(i), /provisioned by a newer installation/);
    assert.deepEqual(provisionHooks(i.installation.id), [], 'no provision hook sent');
    const account = await h.store.accounts.getAccount(accountId);
    assert.deepEqual([account?.installationId, account?.status], ['inst-other', 'provisioned']);
  });

  it('an older installation holds it (its uninstall not applied yet): provisioned, the hook sent (positive control)', async () => {
    const i = await h.installing(1);
    const accountId = await heldByAnother(i, -3_600_000);
    await provision(i);
    assert.equal(provisionHooks(i.installation.id).length, 1);
    assert.equal((await h.store.accounts.getAccount(accountId))?.installationId, i.installation.id);
  });
});
