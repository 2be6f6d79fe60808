import assert from 'node:assert/strict';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/** The copy of an ignored event's credentials is deleted by its event id alone (FerretDB, simulator). */
describe('discarding an ignored event’s credentials (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(async () => h?.close());

  it("deletes that event's encrypted copy and leaves a later event's copy for its import", async () => {
    const { installation } = await h.installing(1);
    const ignored = await h.storeEvent(h.simulator.rotateCredentials(installation.id, { compromised: false }));
    const kept = await h.storeEvent(h.simulator.rotateCredentials(installation.id, { compromised: false }));
    assert.ok(await h.store.eventCredentials.get(ignored.eventId), 'stored by the callback');

    const first = await h.run(h.acts.discardEventCredentials, { installationId: installation.id, eventId: ignored.eventId });
    assert.deepEqual(first, { deleted: true });
    assert.equal(await h.store.eventCredentials.get(ignored.eventId), undefined);
    assert.ok(await h.store.eventCredentials.get(kept.eventId), "another event's copy is left");
    // A retry finds it gone.
    assert.deepEqual(await h.run(h.acts.discardEventCredentials, { installationId: installation.id, eventId: ignored.eventId }), {
      deleted: false,
    });
    const { clientId } = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: kept.eventId, activate: false });
    assert.ok(await h.store.credentials.usable(installation.id, clientId), 'the later event still imports');
  });
});
