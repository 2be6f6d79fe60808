import assert from 'node:assert/strict';
import { toFailure } from '../../activities/failures';
import { CREDENTIALS_BACKSTOP_MARKER } from '../../activities/reconciliation';
import { COLLECTIONS } from '../../src/store';
import { TOKEN_GRANT_RETENTION_MS } from '../../src/store/token-grants';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

const failure = (err: unknown) => err as { message?: string; nonRetryable?: boolean };
const activating = (err: unknown) => /imported less than \d+ minutes ago/.test(failure(err).message ?? '');

/**
 * The notes that tell a fresh set's activating scopes (retried) from a revoked set (final): activities/tokens.ts.
 * A compromised rotation revokes the set in use at the simulator at once: its 401 `invalid_client` stands for both.
 */
describe('token grant notes: activation or revocation of a fresh set (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(async () => h?.close());
  const granted = async (installationId: string, clientId: string) => {
    const set = await h.store.credentials.get(installationId, clientId);
    return set !== null && (await h.store.tokenGrants.since(installationId, clientId, set.createdAt));
  };
  const refusal = async (installationId: string, clientId: string) =>
    h.run(h.acts.obtainToken, { installationId, clientId }).then(
      () => assert.fail('a token was granted'),
      (err: unknown) => err,
    );

  it('a fresh set granted a token before and refused now is revoked: final; one never granted is retried', async () => {
    const granted = await h.installing(1);
    await h.run(h.acts.obtainToken, { installationId: granted.installation.id, clientId: granted.clientId });
    const neverGranted = await h.installing(1);
    for (const i of [granted, neverGranted]) {
      h.simulator.rotateCredentials(i.installation.id, { compromised: true });
      await h.store.credentials.dropTokens(i.installation.id);
    }
    await assert.rejects(h.run(h.acts.obtainToken, { installationId: granted.installation.id, clientId: granted.clientId }), (err) => {
      assert.ok(!activating(err), `taken for activation: ${failure(err).message}`);
      // As the worker's interceptor records it (activities/failures.ts): a failure no retry can fix.
      assert.equal(toFailure(err, 'obtainToken').nonRetryable, true, `final: ${failure(err).message}`);
      return true;
    });
    await assert.rejects(
      h.run(h.acts.obtainToken, { installationId: neverGranted.installation.id, clientId: neverGranted.clientId }),
      (err) => {
        assert.ok(activating(err), `not taken for activation: ${failure(err).message}`);
        assert.equal(failure(err).nonRetryable, false);
        return true;
      },
    );
  });

  it('a note whose write fails leaves no cached token: the retry is granted and noted', async () => {
    const { installation, clientId } = await h.installing(1);
    const grants = h.store.tokenGrants;
    const note = grants.note.bind(grants);
    grants.note = () => Promise.reject(new Error('MongoDB went away'));
    try {
      await assert.rejects(h.run(h.acts.obtainToken, { installationId: installation.id, clientId }), /went away/);
    } finally {
      grants.note = note;
    }
    assert.equal(await h.store.credentials.cachedToken(installation.id, clientId, 0), undefined, 'no token cached without its note');
    assert.equal(await granted(installation.id, clientId), false);
    const again = await h.run(h.acts.obtainToken, { installationId: installation.id, clientId });
    assert.equal(again.cached, false);
    assert.equal(await granted(installation.id, clientId), true);
  });

  it("a cached token's result names its expiry and scope as granted (what the history shows), not a minute from now and none", async () => {
    const { installation, clientId } = await h.installing(1);
    const granted = await h.run(h.acts.obtainToken, { installationId: installation.id, clientId });
    assert.equal(granted.cached, false);
    assert.ok(granted.scope.split(' ').includes('apps:write'), granted.scope);
    const cached = await h.run(h.acts.obtainToken, { installationId: installation.id, clientId });
    assert.deepEqual(cached, { ...granted, cached: true });
  });

  it('the credentials backstop drops notes older than a day (no TTL index on FerretDB), and keeps a recent one', async () => {
    const old = await h.installing(1);
    const recent = await h.installing(1);
    for (const i of [old, recent]) await h.run(h.acts.obtainToken, { installationId: i.installation.id, clientId: i.clientId });
    await h.db
      .collection(COLLECTIONS.tokenGrants)
      .updateOne(
        { installationId: old.installation.id },
        { $set: { grantedAt: new Date(Date.now() - TOKEN_GRANT_RETENTION_MS - 60_000) } },
      );
    await h.db.collection(COLLECTIONS.storeMarkers).deleteOne({ _id: CREDENTIALS_BACKSTOP_MARKER as never });
    await h.run(h.acts.destroyRetiredCredentials, { limit: 1_000 });
    assert.equal(await granted(old.installation.id, old.clientId), false, 'the old note went');
    assert.equal(await granted(recent.installation.id, recent.clientId), true, 'the recent note is kept');
  });

  it("a same-id reinstall's set is judged by its own grants: the earlier life's note does not make it revoked", async () => {
    const { installation, event, clientId } = await h.installing(1);
    await h.run(h.acts.obtainToken, { installationId: installation.id, clientId });
    await h.store.credentials.destroyAll(installation.id); // the uninstall
    // The worker that noted that grant ran an hour ahead: its note looks newer than the reinstall's import.
    await h.db
      .collection(COLLECTIONS.tokenGrants)
      .updateOne({ installationId: installation.id }, { $set: { grantedAt: new Date(Date.now() + 3_600_000) } });
    // The reinstall under the same installation and client ids: its set written anew.
    const again = { ...event, id: `${event.id}-again`, created_at: new Date().toISOString() };
    await h.storeEvent(again);
    await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: again.id, activate: true });
    h.simulator.rotateCredentials(installation.id, { compromised: true }); // refused 401 invalid_client from now on
    const err = await refusal(installation.id, clientId);
    assert.ok(activating(err), `taken as revoked by the earlier life's grant: ${failure(err).message}`);
  });

  it('a set imported long after its event (a rotation queued behind others) is not taken for one whose scopes activate', async () => {
    const { installation } = await h.installing(1);
    const late = h.simulator.rotateCredentials(installation.id, {}, { createdAt: new Date(Date.now() - 20 * 60_000) });
    h.simulator.rotateCredentials(installation.id, { compromised: true }); // revokes the late rotation's client
    await h.storeEvent(late);
    const { clientId } = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: late.id, activate: false });
    const err = await refusal(installation.id, clientId);
    assert.ok(!activating(err), `retried as activating: ${failure(err).message}`);
    assert.equal(toFailure(err, 'obtainToken').nonRetryable, true, `final: ${failure(err).message}`);
  });
});
