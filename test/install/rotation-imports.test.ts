import assert from 'node:assert/strict';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * Rotations off the reference's usual path, and what each must never do: leave the installation without working
 * credentials. app.credentials_rotated may come without `_links` (the schema accepts it: the reference lists only
 * the new credentials): its set takes the account's token URL from the installation's earlier credentials. One that
 * reuses the client id in use with another key is refused, its copy kept. A switch to a set destroyed meanwhile
 * keeps the set in use.
 */
describe('rotations off the usual path: imports and switches (FerretDB, simulator)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** The simulator's rotation event with its links removed: its data names the installation instead (or nothing routes it). */
  const withoutLinks = (installationId: string) => {
    const { _links, ...rest } = h.simulator.rotateCredentials(installationId, { withIds: true });
    void _links;
    return rest;
  };

  it("imports the rotated set with the install's token URL, and a token is obtained with it", async () => {
    const { installation, event } = h.simulator.createInstallation();
    await h.storeEvent(event);
    await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });
    const rotated = withoutLinks(installation.id);
    await h.storeEvent(rotated);
    const { clientId } = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: rotated.id, activate: false });
    assert.equal(clientId, rotated.data.client_id);
    const set = await h.store.credentials.get(installation.id, clientId);
    assert.equal(set?.tokenUrl, event._links.tokens.href);
    const token = await h.run(h.acts.obtainToken, { installationId: installation.id, clientId });
    assert.equal(token.cached, false, 'a token requested with the new set, at the install’s token URL');
  });

  it("an install's import attempt that outlived its timeout, run again after a rotation was imported, leaves the rotation's set", async () => {
    const { installation, event } = h.simulator.createInstallation();
    await h.storeEvent(event);
    const install = { installationId: installation.id, eventId: event.id, activate: true };
    const { clientId } = await h.run(h.acts.importCredentials, install);
    const rotated = h.simulator.rotateCredentials(installation.id);
    await h.storeEvent(rotated);
    const next = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: rotated.id, activate: false });
    // The install's first attempt, stalled on a store call past its timeout, ends now: its set imported already.
    await h.run(h.acts.importCredentials, install);
    const [mine, theirs] = await Promise.all([
      h.store.credentials.get(installation.id, clientId),
      h.store.credentials.get(installation.id, next.clientId),
    ]);
    assert.equal(mine?.status, 'active');
    assert.equal(theirs?.status, 'pending', "the rotation's set, imported after the install's, is not destroyed");
    assert.ok(await h.run(h.acts.obtainToken, { installationId: installation.id, clientId: next.clientId }));
  });

  it('an installation with no earlier credentials still refuses it for good (EventWithoutTokenUrl)', async () => {
    const { installation } = h.simulator.createInstallation();
    const rotated = withoutLinks(installation.id);
    await h.storeEvent(rotated);
    await assert.rejects(
      h.run(h.acts.importCredentials, { installationId: installation.id, eventId: rotated.id, activate: false }),
      (err: unknown) => (err as { type?: string }).type === 'EventWithoutTokenUrl',
    );
  });

  it('a rotation that brings a new key under the client id in use is refused for good (ClientIdReused): the set in use and the event’s copy kept', async () => {
    const { installation, event } = h.simulator.createInstallation();
    await h.storeEvent(event);
    const { clientId } = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });
    const rotated = h.simulator.rotateCredentials(installation.id);
    const sameClient = { ...rotated, data: { ...rotated.data, client_id: clientId } };
    await h.storeEvent(sameClient);
    await assert.rejects(
      h.run(h.acts.importCredentials, { installationId: installation.id, eventId: sameClient.id, activate: false }),
      (err: unknown) => (err as { type?: string }).type === 'ClientIdReused',
    );
    const set = await h.store.credentials.get(installation.id, clientId);
    assert.deepEqual([set?.keyId, set?.status], [event.data.key_id, 'active'], 'the set in use unchanged');
    assert.ok(await h.store.eventCredentials.get(sameClient.id), 'the event’s copy is kept, not dropped as imported');
  });

  it('a switch to a set destroyed meanwhile fails for good and leaves the set in use active (not retired for a dead one)', async () => {
    const { installation, event } = h.simulator.createInstallation();
    await h.storeEvent(event);
    const { clientId: old } = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });
    const rotated = h.simulator.rotateCredentials(installation.id);
    await h.storeEvent(rotated);
    const { clientId } = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: rotated.id, activate: false });
    await h.store.credentials.destroy(installation.id, clientId); // the pending set's sweep, say
    await assert.rejects(
      h.run(h.acts.switchCredentials, {
        installationId: installation.id,
        clientId,
        previousClientId: old,
        retireAt: new Date(Date.now() + 60_000).toISOString(),
        destroyPreviousNow: true,
      }),
      (err: unknown) => (err as { nonRetryable?: boolean }).nonRetryable === true,
    );
    assert.equal((await h.store.credentials.get(installation.id, old))?.status, 'active');
  });

  it('a late compromised rotation destroys the retiring sets issued before it; a set issued after, or of unknown issue, keeps its retirement', async () => {
    const at = (secondsAgo: number) => ({ createdAt: new Date(Date.now() - secondsAgo * 1000) });
    const { installation, event } = h.simulator.createInstallation({}, at(60));
    const installationId = installation.id;
    await h.storeEvent(event);
    const { clientId: a } = await h.run(h.acts.importCredentials, { installationId, eventId: event.id, activate: true });
    const retireAt = new Date(Date.now() + 3_600_000).toISOString();
    /** A routine rotation dated `secondsAgo`, imported and switched to, the set in use retiring. */
    const rotate = async (secondsAgo: number, previousClientId: string) => {
      const rotated = h.simulator.rotateCredentials(installationId, {}, at(secondsAgo));
      await h.storeEvent(rotated);
      const { clientId } = await h.run(h.acts.importCredentials, { installationId, eventId: rotated.id, activate: false });
      await h.run(h.acts.switchCredentials, { installationId, clientId, previousClientId, retireAt, destroyPreviousNow: false });
      return clientId;
    };
    const b = await rotate(20, a);
    const c = await rotate(10, b);
    // The compromised rotation delivered late, dated between the install and the first routine rotation.
    const revoke = { installationId, clientIds: [a, b], issuedBefore: new Date(Date.now() - 40_000).toISOString() };
    assert.deepEqual(await h.run(h.acts.destroyRevokedCredentials, revoke), { clientIds: [a] });
    const [setA, setB, setC] = await Promise.all([a, b, c].map((id) => h.store.credentials.get(installationId, id)));
    assert.deepEqual([setA?.status, setA?.secret], ['destroyed', undefined], 'its ciphertext deleted, not only marked');
    assert.deepEqual([setB?.status, setC?.status], ['retiring', 'active']);
    assert.deepEqual(await h.run(h.acts.destroyRevokedCredentials, revoke), { clientIds: [a] }, 'a retry answers the same');
    // A set imported by an older version has no issue time: not known to be revoked, left to its grace.
    await h.db.db.collection('credentials').updateOne({ installationId, clientId: b }, { $unset: { issuedAt: '' } });
    const later = { installationId, clientIds: [b, c], issuedBefore: new Date().toISOString() };
    assert.deepEqual(await h.run(h.acts.destroyRevokedCredentials, later), { clientIds: [] }, 'the active set is never destroyed');
    assert.equal((await h.store.credentials.get(installationId, b))?.status, 'retiring');
  });
});
