import assert from 'node:assert/strict';
import { generateInstallationKeys } from '../../src/simulator';
import { COLLECTIONS } from '../../src/store/db';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { copy, type Mutable } from '../support/callback-checks';
import { postCallback } from '../support/callback-client';
import { useSystem, type TestSystem } from '../support/system';

/** One event id, two bodies: a redelivery is the same event; anything else under its id is refused, nothing of it stored. */
describe('callback: another body under a stored event id is refused 409 event_id_conflict', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  /** A fresh, valid install event of a simulated installation. */
  const fresh = () => sys.simulator.createInstallation().event;

  it('refuses an event whose id is stored for another installation (409 event_id_conflict): the stored one kept', async () => {
    const first = fresh();
    const ok = await postCallback(sys.web.callbackUrl, JSON.stringify(first));
    assert.ok(ok.status === 200 || ok.status === 202, ok.text);
    const other = copy(sys.simulator.createInstallation().event);
    other.id = first.id;
    const answer = await postCallback(sys.web.callbackUrl, JSON.stringify(other));
    assert.equal(answer.status, 409, answer.text);
    assert.equal(answer.json?.error?.code, 'event_id_conflict');
    const kept = await sys.store.inbox.get(first.id);
    assert.equal(kept?.installationId, first.data.installation_id, 'the stored event is unchanged');
    // Still recognised as a repeat of itself.
    assert.equal((await postCallback(sys.web.callbackUrl, JSON.stringify(first))).json?.status, 'duplicate');
  });

  it('refuses an install under the id of a stored user.logout of its installation (409 event_id_conflict): no copy of its credentials kept', async () => {
    const install = fresh();
    const installationId = install.data.installation_id;
    // A user.logout stored under the id first (as the logout's store writes it: no lifecycle event in the record).
    await sys.store.db.db.collection(COLLECTIONS.inbox).insertOne({
      _id: install.id as never,
      installationId,
      type: 'user.logout',
      createdAt: new Date(install.created_at),
      receivedAt: new Date(),
      logout: { accountId: install.data.account_id, talkdeskUserId: 'u1' },
    });
    // Before, the conflict's clean-up read the stored record's lifecycle event and threw: 503 on every delivery.
    const answer = await postCallback(sys.web.callbackUrl, JSON.stringify(install));
    assert.equal(answer.status, 409, answer.text);
    assert.equal(answer.json?.error?.code, 'event_id_conflict');
    assert.equal(await sys.store.db.db.collection(COLLECTIONS.eventCredentials).countDocuments({ _id: install.id as never }), 0);
    assert.equal((await sys.store.db.db.collection(COLLECTIONS.inbox).findOne({ _id: install.id as never }))?.type, 'user.logout');
  });

  it('refuses a repeat of an update with other users or subscription (409 event_id_conflict): the stored one kept', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    assert.equal((await postCallback(sys.web.callbackUrl, JSON.stringify(event))).status, 200);
    const update = sys.simulator.updateUsers(installation.id, { add: 1 });
    assert.equal((await postCallback(sys.web.callbackUrl, JSON.stringify(update))).status, 200);
    const otherUsers = structuredClone(update) as unknown as Mutable;
    otherUsers.data.users = { adding: ['someone-else'], removing: [] };
    const answer = await postCallback(sys.web.callbackUrl, JSON.stringify(otherUsers));
    assert.equal(answer.status, 409, answer.text);
    assert.equal(answer.json?.error?.code, 'event_id_conflict');
    assert.equal((await postCallback(sys.web.callbackUrl, JSON.stringify(update))).json?.status, 'duplicate', 'the same body is a repeat');
  });

  it('refuses a repeat of an event id with another client_id or created_at (409 event_id_conflict): the stored one kept', async () => {
    const first = fresh();
    const ok = await postCallback(sys.web.callbackUrl, JSON.stringify(first));
    assert.ok(ok.status === 200 || ok.status === 202, ok.text);
    const otherClient = copy(first);
    otherClient.data.client_id = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    const later = copy(first);
    later.created_at = new Date(Date.parse(first.created_at) + 60_000).toISOString();
    for (const body of [otherClient, later]) {
      const answer = await postCallback(sys.web.callbackUrl, JSON.stringify(body));
      assert.equal(answer.status, 409, answer.text);
      assert.equal(answer.json?.error?.code, 'event_id_conflict');
    }
    const kept = await sys.store.inbox.get(first.id);
    assert.equal((kept?.event.facts as { client_id?: string }).client_id, first.data.client_id, 'the stored event is unchanged');
    assert.equal((await postCallback(sys.web.callbackUrl, JSON.stringify(first))).json?.status, 'duplicate');
  });

  it("refuses another body under the id of a delivery whose record was never written (its credentials' copy stored): 409", async () => {
    const first = fresh();
    const { installation_id: installationId, client_id: clientId, client_secret: clientSecret } = first.data;
    // What a first delivery leaves when its record's write fails after the copy's (answered 503).
    const owner = { eventId: first.id, installationId, createdAt: new Date(first.created_at), storedAt: new Date() };
    const creds = { clientId, clientSecret, privateKey: first.data.private_key, publicKey: first.data.public_key };
    assert.equal(await sys.store.eventCredentials.put(owner, sealEventCredentials(sys.keyring, installationId, creds)), 'stored');
    const otherClient = copy(first);
    otherClient.data.client_id = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    const answer = await postCallback(sys.web.callbackUrl, JSON.stringify(otherClient));
    assert.equal(answer.status, 409, answer.text);
    assert.equal(answer.json?.error?.code, 'event_id_conflict');
    assert.equal(await sys.store.inbox.get(first.id), null, 'no record names the copy it could not read');
    // The first body delivered again is stored with the copy it left.
    const again = await postCallback(sys.web.callbackUrl, JSON.stringify(first));
    assert.ok(again.status === 200 || again.status === 202, again.text);
    assert.equal((await sys.store.inbox.get(first.id))?.installationId, installationId);
  });

  it('refuses a body with another key pair under the id of a delivery whose record was never written: 409, not a set of two halves', async () => {
    const first = fresh();
    const { installation_id: installationId, client_id: clientId, client_secret: clientSecret } = first.data;
    const owner = { eventId: first.id, installationId, createdAt: new Date(first.created_at), storedAt: new Date() };
    const creds = {
      clientId,
      clientSecret,
      privateKey: first.data.private_key,
      publicKey: first.data.public_key,
      keyId: first.data.key_id,
      keyAlgorithm: first.data.key_algorithm,
    };
    assert.equal(await sys.store.eventCredentials.put(owner, sealEventCredentials(sys.keyring, installationId, creds)), 'stored');
    // Same installation, client and time; another key (its id and the key itself): the import would pair them wrongly.
    const otherKey = copy(first);
    const keys = generateInstallationKeys(first.data.key_algorithm);
    otherKey.data.key_id = 'another-key-id';
    otherKey.data.private_key = keys.private_key;
    otherKey.data.public_key = keys.public_key;
    const answer = await postCallback(sys.web.callbackUrl, JSON.stringify(otherKey));
    assert.equal(answer.status, 409, answer.text);
    assert.equal(answer.json?.error?.code, 'event_id_conflict');
    assert.equal(await sys.store.inbox.get(first.id), null);
    const again = await postCallback(sys.web.callbackUrl, JSON.stringify(first));
    assert.ok(again.status === 200 || again.status === 202, again.text);
  });
});
