import assert from 'node:assert/strict';
import { PartnerRefusedError } from '../../src/partner/errors';
import { MongoProvisioner } from '../../src/partner/mongodb';
import type { PartnerProvisioner } from '../../src/partner/provisioner';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * A partner's own provisioner (createAppWorker({ partner })) that refuses an undo, a revert, a deprovision or a trial record for good
 * (contract 4, PartnerRefusedError): recorded in partner_calls and the step completes, as with the HTTP hooks. Thrown
 * on, it failed the installation's workflow: the uninstall never acknowledged, the credentials never destroyed; a
 * refused trial record stopped the workflow and every event queued behind it.
 */
describe("a custom provisioner's final refusal of an undo, a revert, a deprovision or a trial record (FerretDB, simulator)", function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  const refuse = () => Promise.reject(new PartnerRefusedError('tenant not found', 404));
  before(
    async () =>
      (h = await startActivityHarness({
        partner: (store): PartnerProvisioner =>
          Object.assign(Object.create(new MongoProvisioner(store)) as PartnerProvisioner, {
            kind: 'refusing-partner',
            keepsServiceRecords: false,
            undoProvision: refuse,
            revertUpdate: refuse,
            deprovision: refuse,
            trial: refuse,
          }),
      })),
  );
  after(() => h?.close());

  it('each completes, the refusal recorded with its reason under the call key', async () => {
    const { installation, event } = await h.installing(1);
    const ref = { installationId: installation.id, accountId: installation.accountId, eventId: event.id, occurredAt: event.created_at };
    await h.run(h.acts.undoProvisioning, ref);
    const applied = { usersAdded: [], usersDeactivated: [], previousSubscription: {} };
    await h.run(h.acts.revertUpdate, { ...ref, applied });
    await h.run(h.acts.recordTrial, { ...ref, trial: { startedAt: event.created_at }, eventType: 'app.trial_started' });
    await h.run(h.acts.deprovisionAccount, ref);
    const refused = await h.store.partnerCalls.coll.find({ installationId: installation.id }).toArray();
    assert.deepEqual(refused.map((c) => [c.type, c.status, c.httpStatus, c.reason]).sort(), [
      ['account.deprovision', 'refused', 404, 'tenant not found'],
      ['account.revert_update', 'refused', 404, 'tenant not found'],
      ['account.trial', 'refused', 404, 'tenant not found'],
      ['account.undo_provision', 'refused', 404, 'tenant not found'],
    ]);
  });
});
