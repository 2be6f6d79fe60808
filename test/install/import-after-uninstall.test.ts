import assert from 'node:assert/strict';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * An install's import attempt that the workflow stopped waiting for (the uninstall interrupted it) and
 * that writes its set after the uninstall's destroyCredentials: the import destroys it and fails for good
 * (FerretDB, simulator). Before, the set stayed `active` with its secret after the installation ended.
 */
describe('an import that finishes after the uninstall destroyed the credentials (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(async () => h?.close());

  it('destroys the set it wrote, deletes the event copy and fails as CredentialsMissing', async () => {
    const { installation, event } = h.simulator.createInstallation({ licensedUsers: 1 });
    await h.storeEvent(event);
    // The uninstall's destroy lands between the import's first read and its writes.
    const creds = h.store.credentials as unknown as { index: (...a: unknown[]) => Promise<void> };
    const index = creds.index.bind(creds);
    let destroyed: unknown;
    creds.index = async (...a: unknown[]) => {
      creds.index = index;
      destroyed = await h.run(h.acts.destroyCredentials, { installationId: installation.id });
      return index(...a);
    };
    await assert.rejects(
      h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true }),
      (err: Error) => {
        assert.equal((err as Error & { type?: string }).type, 'CredentialsMissing', String(err));
        assert.match(err.message, /destroyed while event .* were being imported/);
        return true;
      },
    );
    assert.ok(destroyed, 'the uninstall ran during the import');
    const sets = await h.store.credentials.list(installation.id);
    assert.equal(sets.length, 1, 'the set was written');
    assert.deepEqual(
      sets.map((s) => [s.status, s.secret]),
      [['destroyed', undefined]],
      'and destroyed: no active set, no secret kept',
    );
    assert.equal(await h.store.eventCredentials.get(event.id), undefined, "the event's copy is gone too");
  });
});
