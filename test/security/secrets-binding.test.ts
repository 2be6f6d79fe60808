import assert from 'node:assert/strict';
import { decryptJson, encryptJson, generateKeySpec, parseKeyring, SecretDecryptError, type EncryptedBlob } from '../../src/crypto/secrets';
import { COLLECTIONS, connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { credentialId, legacyCredentialId } from '../../src/store/credentials';
import { countBlobsByKid, migrateCredentialIds, reencryptAll } from '../../src/store/reencrypt';
import type { Document } from 'mongodb';
import { credentialSecretContext, eventCredentialsContext, inboxCredentialsContext } from '../../src/store/secret-contexts';
import { legacyBlob } from '../support/legacy-secrets';
import { mongoUri, uniqueDbName } from '../support/servers';

/**
 * Secrets at rest against FerretDB (issue 15): credential records of two
 * installations cannot collide on one id; a blob moved to another field or
 * credential set of the same installation does not decrypt; a database written by
 * earlier versions (legacy ids, version 1 blobs) keeps working until
 * `npm run reencrypt` migrates it, and afterwards.
 */

const spec = generateKeySpec('k1');
const keyring = parseKeyring(spec);
const secretOf = (tag: string) => ({ clientSecret: `cs-${tag}-${'x'.repeat(20)}`, privateKey: `pk-${tag}`, publicKey: `pub-${tag}` });

describe('security: credential ids and secret binding (FerretDB)', function () {
  this.timeout(60_000);
  let db: Database;
  let store: Store;
  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('bind'));
    store = createStore(db, keyring);
    await store.ensureIndexes();
  });
  after(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  /** A credential set as an earlier version stored it, under its legacy (unescaped) id. */
  async function insertLegacySet(ids: { installationId: string; clientId: string }, tag: string, fields: Record<string, unknown>) {
    await db.collection(COLLECTIONS.credentials).insertOne({
      _id: legacyCredentialId(ids.installationId, ids.clientId) as never,
      ...ids,
      keyId: `kid-${tag}`,
      keyAlgorithm: 'ES256',
      tokenUrl: 'https://x.talkdeskid.com/oauth/token',
      createdAt: new Date(),
      ...fields,
    });
  }

  async function importSet(installationId: string, clientId: string, tag: string): Promise<void> {
    await store.credentials.importPending({
      installationId,
      clientId,
      keyId: `kid-${tag}`,
      keyAlgorithm: 'ES256',
      tokenUrl: 'https://x.talkdeskid.com/oauth/token',
      sourceEventId: `evt-${tag}`,
      secret: store.credentials.encryptSecret(installationId, clientId, secretOf(tag)),
      secretFrom: credentialSecretContext(installationId, clientId),
    });
  }

  it('ids that contain ":" cannot collide: two installations keep their own credentials and tokens', async () => {
    // The old key `${installationId}:${clientId}` was "a:b:c" for both.
    const one = { installationId: 'a:b', clientId: 'c' };
    const two = { installationId: 'a', clientId: 'b:c' };
    assert.equal(legacyCredentialId(one.installationId, one.clientId), legacyCredentialId(two.installationId, two.clientId));
    assert.notEqual(credentialId(one.installationId, one.clientId), credentialId(two.installationId, two.clientId));
    assert.notEqual(credentialId('a%3Ab', 'c'), credentialId('a:b', 'c'), 'the escape character is escaped too');

    await importSet(one.installationId, one.clientId, 'one');
    await importSet(two.installationId, two.clientId, 'two');
    await store.credentials.cacheToken(one.installationId, one.clientId, 'token-one', 's', new Date(Date.now() + 3_600_000));
    await store.credentials.cacheToken(two.installationId, two.clientId, 'token-two', 's', new Date(Date.now() + 3_600_000));

    assert.deepEqual((await store.credentials.usable(one.installationId, one.clientId))?.secret, secretOf('one'));
    assert.deepEqual((await store.credentials.usable(two.installationId, two.clientId))?.secret, secretOf('two'));
    assert.equal(await store.credentials.cachedToken(one.installationId, one.clientId, 0), 'token-one');
    assert.equal(await store.credentials.cachedToken(two.installationId, two.clientId, 0), 'token-two');
    assert.equal(await store.credentials.destroy(one.installationId, one.clientId), true);
    assert.ok(await store.credentials.usable(two.installationId, two.clientId), "destroying one leaves the other's set");
  });

  it('a blob moved to another field or another credential set of the same installation does not decrypt', async () => {
    const inst = 'inst-move';
    await importSet(inst, 'client-1', 'm1');
    await importSet(inst, 'client-2', 'm2');
    await store.credentials.cacheToken(inst, 'client-1', 'token-m1', 's', new Date(Date.now() + 3_600_000));
    const creds = db.collection(COLLECTIONS.credentials);
    const tokens = db.collection(COLLECTIONS.tokens);
    const set1 = await creds.findOne({ _id: credentialId(inst, 'client-1') as never });
    const token1 = await tokens.findOne({ _id: credentialId(inst, 'client-1') as never });

    // Set 1's secret written over set 2's: set 2 must not silently use set 1's credentials.
    await creds.updateOne({ _id: credentialId(inst, 'client-2') as never }, { $set: { secret: set1?.secret } });
    await assert.rejects(store.credentials.usable(inst, 'client-2'), SecretDecryptError);
    // Set 1's token blob put in place of its secret (another collection and field).
    await creds.updateOne({ _id: credentialId(inst, 'client-1') as never }, { $set: { secret: token1?.token } });
    await assert.rejects(store.credentials.usable(inst, 'client-1'), SecretDecryptError);
    // And a secret in place of a token.
    await tokens.updateOne({ _id: credentialId(inst, 'client-1') as never }, { $set: { token: set1?.secret } });
    await assert.rejects(store.credentials.cachedToken(inst, 'client-1', 0), SecretDecryptError);
  });

  it("a legacy set destroyed (an uninstall), then a same-id reinstall given the same client: the reinstall's set is written anew, not skipped", async () => {
    const ended = { installationId: 'inst:ended', clientId: 'client:ended' };
    await insertLegacySet(ended, 'ended', { status: 'destroyed', sourceEventId: 'evt-first-life' });
    await importSet(ended.installationId, ended.clientId, 'reinstall');
    assert.equal((await store.credentials.get(ended.installationId, ended.clientId))?.status, 'pending', "the reinstall's set");
    assert.deepEqual((await store.credentials.usable(ended.installationId, ended.clientId))?.secret, secretOf('reinstall'));
    // Not left for the migration test below, which counts the legacy records of the whole database.
    await db.collection(COLLECTIONS.credentials).deleteMany({ installationId: ended.installationId });
  });

  it("a migration interrupted between its copy and the legacy record's delete, the set destroyed since, then a same-id reinstall: written anew", async () => {
    const ids = { installationId: 'inst:halfway', clientId: 'client:halfway' };
    // The legacy record as the migration left it (still active), and its copy under the escaped id, destroyed since.
    await insertLegacySet(ids, 'halfway', { status: 'active', sourceEventId: 'evt-first-life' });
    await db.collection(COLLECTIONS.credentials).insertOne({
      _id: credentialId(ids.installationId, ids.clientId) as never,
      ...ids,
      keyId: 'kid-halfway',
      keyAlgorithm: 'ES256',
      tokenUrl: 'https://x.talkdeskid.com/oauth/token',
      sourceEventId: 'evt-first-life',
      status: 'destroyed',
      createdAt: new Date(),
    });
    try {
      await importSet(ids.installationId, ids.clientId, 'reinstall');
      assert.equal((await store.credentials.get(ids.installationId, ids.clientId))?.status, 'pending', "the reinstall's set");
      assert.deepEqual((await store.credentials.usable(ids.installationId, ids.clientId))?.secret, secretOf('reinstall'));
    } finally {
      // Not left for the migration test below, which counts the legacy records of the whole database.
      await db.collection(COLLECTIONS.credentials).deleteMany({ installationId: ids.installationId });
    }
  });

  it('a destroy by the backstop finding the set destroyed already (an attempt whose token drop failed) drops its cached token', async () => {
    const ids = { installationId: 'inst-token-left', clientId: 'client-token-left' };
    await importSet(ids.installationId, ids.clientId, 'left');
    await store.credentials.cacheToken(ids.installationId, ids.clientId, 'token-left', 's', new Date(Date.now() + 3_600_000));
    const listed = await store.credentials.get(ids.installationId, ids.clientId);
    assert.ok(listed);
    // The earlier attempt's write landed, its token drop did not.
    await db
      .collection(COLLECTIONS.credentials)
      .updateOne(
        { _id: credentialId(ids.installationId, ids.clientId) as never },
        { $set: { status: 'destroyed' }, $unset: { secret: '' } },
      );
    const tokens = () => db.collection(COLLECTIONS.tokens).countDocuments({ _id: credentialId(ids.installationId, ids.clientId) as never });
    assert.equal(await tokens(), 1);
    assert.equal(await store.credentials.destroy(ids.installationId, ids.clientId, 'pending', listed), false);
    assert.equal(await tokens(), 0, 'no ciphertext of a token left for a destroyed set');
  });

  it('a database of earlier versions (legacy ids, version 1 blobs) keeps working, and reencrypt migrates it', async () => {
    const plain = { installationId: 'inst-legacy', clientId: 'client-legacy' };
    const colon = { installationId: 'inst:colon', clientId: 'client:colon' };
    const inboxId = 'evt-legacy-inbox';
    const expires = new Date(Date.now() + 3_600_000);
    for (const [s, tag] of [
      [plain, 'plain'],
      [colon, 'colon'],
    ] as const) {
      await db.collection(COLLECTIONS.credentials).insertOne({
        _id: legacyCredentialId(s.installationId, s.clientId) as never,
        installationId: s.installationId,
        clientId: s.clientId,
        keyId: `kid-${tag}`,
        keyAlgorithm: 'ES256',
        tokenUrl: 'https://x.talkdeskid.com/oauth/token',
        status: 'active',
        secret: legacyBlob(keyring, 'k1', secretOf(tag), s.installationId),
        sourceEventId: `evt-${tag}`,
        createdAt: new Date(),
      });
      await db.collection(COLLECTIONS.tokens).insertOne({
        _id: legacyCredentialId(s.installationId, s.clientId) as never,
        installationId: s.installationId,
        clientId: s.clientId,
        token: legacyBlob(keyring, 'k1', `token-${tag}`, s.installationId),
        scope: 's',
        expiresAt: expires,
      });
    }
    await db.collection(COLLECTIONS.inbox).insertOne({
      _id: inboxId as never,
      installationId: colon.installationId,
      event: { facts: { client_id: colon.clientId } },
      credentials: legacyBlob(keyring, 'k1', secretOf('inbox'), colon.installationId),
      dispatchedAt: new Date(), // handed over before the upgrade
    });

    // Before the migration: everything reads, through the legacy id where it differs.
    for (const [s, tag] of [
      [plain, 'plain'],
      [colon, 'colon'],
    ] as const) {
      assert.deepEqual((await store.credentials.usable(s.installationId, s.clientId))?.secret, secretOf(tag), `${tag} before`);
      assert.equal(await store.credentials.cachedToken(s.installationId, s.clientId, 0), `token-${tag}`);
    }
    // A re-delivered import of the colon set does not create a second record beside the legacy one.
    await importSet(colon.installationId, colon.clientId, 'again');
    assert.equal(await db.collection(COLLECTIONS.credentials).countDocuments({ installationId: colon.installationId }), 1);

    const dry = await reencryptAll(db, keyring, { dryRun: true });
    assert.deepEqual(
      dry.ids.map((r) => [r.collection, r.moved]),
      [
        ['credentials', 1],
        ['tokens', 1],
      ],
    );
    // npm run reencrypt first moves credentials of handed-over events out of older inbox records.
    assert.equal(await store.inbox.moveLegacyCredentials(), 1);
    const run = await reencryptAll(db, keyring);
    assert.equal(run.complete, true);
    assert.deepEqual(
      run.ids.map((r) => [r.collection, r.moved, r.dropped]),
      [
        ['credentials', 1, 0],
        ['tokens', 1, 0],
      ],
    );
    assert.ok(run.totals.reencrypted >= 5, `old-binding blobs rewritten: ${run.totals.reencrypted}`);

    // After: collision-free ids, version 2 blobs only, same secrets.
    assert.equal(
      await db.collection(COLLECTIONS.credentials).findOne({ _id: legacyCredentialId(colon.installationId, colon.clientId) as never }),
      null,
    );
    const moved = await db
      .collection(COLLECTIONS.credentials)
      .findOne({ _id: credentialId(colon.installationId, colon.clientId) as never });
    assert.equal((moved?.secret as EncryptedBlob | undefined)?.v, 2);
    const inbox = await db.collection(COLLECTIONS.inbox).findOne({ _id: inboxId as never });
    assert.equal(inbox?.credentials, undefined, 'moved out of the inbox record');
    const eventBlob = (await store.eventCredentials.get(inboxId))?.secret;
    assert.equal(eventBlob?.v, 2);
    assert.deepEqual(
      decryptJson(keyring, eventBlob as EncryptedBlob, eventCredentialsContext(colon.installationId, colon.clientId)),
      secretOf('inbox'),
    );
    for (const [s, tag] of [
      [plain, 'plain'],
      [colon, 'colon'],
    ] as const) {
      assert.deepEqual((await store.credentials.usable(s.installationId, s.clientId))?.secret, secretOf(tag), `${tag} after`);
      assert.equal(await store.credentials.cachedToken(s.installationId, s.clientId, 0), `token-${tag}`);
    }
    const again = await reencryptAll(db, keyring);
    assert.deepEqual(again.totals, { found: 0, reencrypted: 0, changedMeanwhile: 0, failed: 0, remaining: 0 }, 'idempotent');
    assert.deepEqual(Object.keys(await countBlobsByKid(db)), ['k1']);
  });

  it('reencrypt is not complete while an older inbox record not handed over yet still holds credentials under the old key', async () => {
    const dbOld = await connectDatabase(await mongoUri(), uniqueDbName('bind-inbox'));
    try {
      const rotated = parseKeyring(`${generateKeySpec('k2')},${spec}`);
      const installationId = 'inst-undispatched';
      const eventId = 'evt-undispatched-legacy';
      await dbOld.collection(COLLECTIONS.inbox).insertOne({
        _id: eventId as never,
        installationId,
        event: { facts: { client_id: 'client-u' } },
        credentials: legacyBlob(keyring, 'k1', secretOf('undispatched'), installationId),
        receivedAt: new Date(),
      });
      const oldStore = createStore(dbOld, rotated);
      assert.equal(await oldStore.inbox.moveLegacyCredentials(), 0, 'not handed over: left in its record');
      const run = await reencryptAll(dbOld, rotated);
      assert.equal(run.totals.remaining, 0);
      assert.equal(run.legacyInboxCredentials, 1);
      assert.equal(run.complete, false, 'k1 still needed for that record');
      assert.deepEqual(await countBlobsByKid(dbOld), { k1: 1 });
      // Handed over: the next run moves it out, re-encrypts it under k2 and is complete.
      await oldStore.inbox.markDispatched(eventId);
      assert.equal(await oldStore.inbox.moveLegacyCredentials(), 1);
      const next = await reencryptAll(dbOld, rotated);
      assert.equal(next.legacyInboxCredentials, 0);
      assert.equal(next.complete, true);
      assert.deepEqual(await countBlobsByKid(dbOld), { k2: 1 });
    } finally {
      await dbOld.db.dropDatabase().catch(() => undefined);
      await dbOld.close();
    }
  });

  it('an inbox record holding a version 2 blob bound to the inbox (a pre-release build) keeps it: moved unchanged, it would not decrypt', async () => {
    const installationId = 'inst-v2-inbox';
    const eventId = 'evt-v2-inbox';
    const blob = encryptJson(keyring, secretOf('v2'), inboxCredentialsContext(installationId, 'client-v2'));
    await db.collection(COLLECTIONS.inbox).insertOne({
      _id: eventId as never,
      installationId,
      event: { facts: { client_id: 'client-v2' } },
      credentials: blob,
      receivedAt: new Date(),
    });
    await store.inbox.markDispatched(eventId);
    assert.equal(await store.inbox.moveLegacyCredentials({ installationId }), 0);
    assert.equal(
      (await store.eventCredentials.get(eventId))?.inInbox,
      true,
      'no copy made under another binding: the import reads the record',
    );
    const kept = (await db.collection(COLLECTIONS.inbox).findOne({ _id: eventId as never }))?.credentials as EncryptedBlob;
    assert.deepEqual(
      decryptJson(keyring, kept, inboxCredentialsContext(installationId, 'client-v2')),
      secretOf('v2'),
      'read by its import there',
    );
    assert.throws(() => decryptJson(keyring, kept, eventCredentialsContext(installationId, 'client-v2')), SecretDecryptError);
  });

  it('reencrypt moving a legacy id while the service destroys that set: it stays destroyed', async () => {
    const set = { installationId: 'inst:racing', clientId: 'client:racing' };
    await insertLegacySet(set, 'racing', {
      status: 'active',
      secret: legacyBlob(keyring, 'k1', secretOf('racing'), set.installationId),
      sourceEventId: 'evt-racing',
    });
    // The uninstall's destroy lands between the migration's read of the record and its copy under the new id.
    const racing: Database = {
      ...db,
      collection: (<T extends Document>(name: Parameters<Database['collection']>[0]) => {
        const coll = db.collection<T>(name);
        if (name !== COLLECTIONS.credentials) return coll;
        return new Proxy(coll, {
          get: (target, prop, receiver) =>
            prop === 'insertOne'
              ? async (...args: Parameters<typeof target.insertOne>) => {
                  await store.credentials.destroy(set.installationId, set.clientId);
                  return target.insertOne(...args);
                }
              : Reflect.get(target, prop, receiver),
        });
      }) as Database['collection'],
    };
    await migrateCredentialIds(racing);
    const rec = await db.collection(COLLECTIONS.credentials).findOne({ _id: credentialId(set.installationId, set.clientId) as never });
    assert.equal(rec?.status, 'destroyed');
    assert.equal(rec?.secret, undefined, 'the secret is gone');
    assert.equal(await store.credentials.usable(set.installationId, set.clientId), undefined);
  });
});
