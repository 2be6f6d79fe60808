import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { decryptJson, generateKeySpec, parseKeyring, type EncryptedBlob } from '../../src/crypto/secrets';
import { PROJECT_ROOT } from '../../src/local/tools';
import { COLLECTIONS, connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { countBlobsByKid, reencryptAll } from '../../src/store/reencrypt';
import { credentialSecretContext, eventCredentialsContext } from '../../src/store/secret-contexts';
import { signHubSignature } from '../../src/web/signature';
import { mongoUri, uniqueDbName } from '../support/servers';
import { WEBHOOK_SECRET } from '../support/system';
import { JSON_HEADERS, freshEvent, send, startLightWeb } from './support';

/**
 * Re-encryption under a new SECRETS_KEY while the service runs: data written under
 * key A, the keyring becomes "B,A", every blob ends under B and decrypts with "B"
 * alone; records destroyed meanwhile stay destroyed; a record changed meanwhile is
 * handled by the next run; runs are idempotent. Then `npm run reencrypt`'s
 * process moves everything to C while a web server keeps storing events.
 */

const specA = generateKeySpec('A');
const specB = generateKeySpec('B');
const specC = generateKeySpec('C');
const keyMaterial = [specA, specB, specC].map((s) => s.slice(s.indexOf(':') + 1));

interface Seeded {
  installationId: string;
  clientId: string;
  secret: { clientSecret: string; privateKey: string; publicKey: string };
  token: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/entry/reencrypt.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

describe('security: re-encryption under a new SECRETS_KEY', function () {
  this.timeout(60_000);
  let uri: string;
  const dbName = uniqueDbName('reenc');
  let db: Database;
  let storeA: Store; // an old process, still on keyring "A"
  const seeded: Seeded[] = [];
  const inboxEvents: { id: string; installationId: string; clientId: string; clientSecret: string }[] = [];

  before(async () => {
    uri = await mongoUri();
    db = await connectDatabase(uri, dbName);
    storeA = createStore(db, parseKeyring(specA));
    await storeA.ensureIndexes();

    // The service as it was: the web server stores install events under A...
    const oldWeb = await startLightWeb({}, { dbName, keySpec: specA });
    try {
      for (let i = 0; i < 12; i += 1) {
        const event = freshEvent('app.installed');
        event.data.client_secret = `inbox-secret-${i}-${'s'.repeat(20)}`;
        const raw = JSON.stringify(event);
        const answer = await send(oldWeb.web.url, raw, {
          headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) },
        });
        assert.equal(answer.status, 200, answer.text);
        inboxEvents.push({
          id: event.id,
          installationId: event.data.installation_id as string,
          clientId: event.data.client_id as string,
          clientSecret: event.data.client_secret as string,
        });
      }
    } finally {
      await oldWeb.close();
    }
    // ...and the worker's credentials and cached tokens under A.
    for (let i = 0; i < 23; i += 1) {
      const s: Seeded = {
        installationId: `inst-${String(i).padStart(3, '0')}`,
        clientId: `client-${i}`,
        secret: { clientSecret: `cs-${i}-${'x'.repeat(24)}`, privateKey: `pk-${i}-${'y'.repeat(40)}`, publicKey: `pub-${i}` },
        token: `token-${i}-${'t'.repeat(30)}`,
      };
      await storeA.credentials.importPending({
        installationId: s.installationId,
        clientId: s.clientId,
        keyId: `kid-${i}`,
        keyAlgorithm: 'ES256',
        tokenUrl: 'https://example.talkdeskid.com/oauth/token',
        sourceEventId: `evt-${i}`,
        secret: storeA.credentials.encryptSecret(s.installationId, s.clientId, s.secret),
        secretFrom: credentialSecretContext(s.installationId, s.clientId),
      });
      await storeA.credentials.activate(s.installationId, s.clientId);
      await storeA.credentials.cacheToken(s.installationId, s.clientId, s.token, 'apps:read', new Date(Date.now() + 3_600_000));
      seeded.push(s);
    }
    // One set destroyed before the run: it has no ciphertext to re-encrypt.
    await storeA.credentials.destroy(seeded[0]!.installationId, seeded[0]!.clientId);
  });
  after(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  it('moves every blob from A to B in batches; destroyed stays destroyed; a concurrent change is left to the next run', async () => {
    assert.deepEqual(await countBlobsByKid(db), { A: 12 + 22 + 22 }, 'event credentials, credential secrets, tokens: all under A');
    const keyringBA = parseKeyring(`${specB},${specA}`);
    const destroyedMeanwhile = [seeded[1]!, seeded[20]!]; // one in the first batch read, one not read yet
    let refreshedToken: string | undefined;
    let droppedInbox: string | undefined;
    const seenBatches: Record<string, number> = {};

    const first = await reencryptAll(db, keyringBA, {
      batchSize: 5,
      beforeWrite: async (collection, ids) => {
        seenBatches[collection] = (seenBatches[collection] ?? 0) + 1;
        if (seenBatches[collection] !== 1) return;
        if (collection === COLLECTIONS.credentials) {
          // Uninstalls and retirements while the command runs.
          for (const s of destroyedMeanwhile) assert.ok(await storeA.credentials.destroy(s.installationId, s.clientId));
          assert.ok(
            ids.includes(`${seeded[1]!.installationId}:${seeded[1]!.clientId}`),
            'the first destroyed set was in the batch just read',
          );
        }
        if (collection === COLLECTIONS.eventCredentials) {
          // An import that moves an event's credentials to the credential store, in the batch just read.
          droppedInbox = String(ids[0]);
          await storeA.eventCredentials.delete(droppedInbox);
        }
        if (collection === COLLECTIONS.tokens) {
          // An old process (keyring "A" only) refreshes a token the batch just read.
          const s = seeded[2]!;
          assert.ok(ids.includes(`${s.installationId}:${s.clientId}`));
          refreshedToken = `refreshed-${'r'.repeat(30)}`;
          await storeA.credentials.cacheToken(s.installationId, s.clientId, refreshedToken, 'apps:read', new Date(Date.now() + 3_600_000));
        }
      },
    });

    const field = (name: string) => first.fields.find((f) => f.collection === name)!;
    assert.ok(
      seenBatches.credentials! >= 4 && seenBatches[COLLECTIONS.eventCredentials]! >= 3 && seenBatches.tokens! >= 4,
      `batches of 5: ${JSON.stringify(seenBatches)}`,
    );
    assert.deepEqual(
      {
        found: field(COLLECTIONS.eventCredentials).found,
        reencrypted: field(COLLECTIONS.eventCredentials).reencrypted,
        changed: field(COLLECTIONS.eventCredentials).changedMeanwhile,
      },
      { found: 12, reencrypted: 11, changed: 1 },
    );
    // 22 sets were live at the start; one destroyed in a batch already read, one before it was read.
    assert.deepEqual(
      { found: field('credentials').found, reencrypted: field('credentials').reencrypted, changed: field('credentials').changedMeanwhile },
      { found: 21, reencrypted: 20, changed: 1 },
    );
    assert.equal(field('tokens').changedMeanwhile, 1);
    assert.equal(field('tokens').remaining, 1, 'the token refreshed under A is left for the next run');
    assert.equal(first.complete, false);
    assert.equal(first.totals.failed, 0);

    const second = await reencryptAll(db, keyringBA, { batchSize: 5 });
    assert.deepEqual(second.totals, { found: 1, reencrypted: 1, changedMeanwhile: 0, failed: 0, remaining: 0 });
    assert.equal(second.complete, true);
    const third = await reencryptAll(db, keyringBA, { batchSize: 5 });
    assert.deepEqual(third.totals, { found: 0, reencrypted: 0, changedMeanwhile: 0, failed: 0, remaining: 0 }, 'idempotent');

    // Everything is under B and reads with B alone.
    const destroyedIds = new Set([seeded[0], ...destroyedMeanwhile].map((s) => s!.installationId));
    const live = seeded.filter((s) => !destroyedIds.has(s.installationId));
    assert.deepEqual(await countBlobsByKid(db), { B: 11 + live.length * 2 });
    const storeB = createStore(db, parseKeyring(specB));
    for (const s of live) {
      assert.deepEqual((await storeB.credentials.usable(s.installationId, s.clientId))?.secret, s.secret);
      const expectedToken = s === seeded[2] ? refreshedToken : s.token;
      assert.equal(await storeB.credentials.cachedToken(s.installationId, s.clientId, 0), expectedToken);
    }
    assert.ok(droppedInbox && inboxEvents.some((e) => e.id === droppedInbox));
    for (const e of inboxEvents.filter((x) => x.id !== droppedInbox)) {
      const blob = (await storeB.eventCredentials.get(e.id))?.secret;
      const creds = decryptJson<{ clientSecret: string }>(
        parseKeyring(specB),
        blob as EncryptedBlob,
        eventCredentialsContext(e.installationId, e.clientId),
      );
      assert.equal(creds.clientSecret, e.clientSecret);
    }

    // Destroyed before or during the run: still destroyed, no ciphertext came back.
    for (const s of [seeded[0]!, ...destroyedMeanwhile]) {
      const rec = await storeB.credentials.get(s.installationId, s.clientId);
      assert.equal(rec?.status, 'destroyed');
      assert.equal(rec?.secret, undefined, `${s.installationId}: the secret stays removed`);
      assert.equal(await storeB.credentials.cachedToken(s.installationId, s.clientId, 0), undefined);
    }
    assert.equal(await storeB.eventCredentials.get(droppedInbox), undefined, 'imported event credentials stay deleted');
  });

  it('`npm run reencrypt` moves everything to C while the web server stores new events, then reports complete', async () => {
    const env = { MONGODB_URI: uri, MONGODB_DB: dbName, SECRETS_KEY: `${specC},${specB}` };
    const before = await countBlobsByKid(db);
    assert.deepEqual(Object.keys(before), ['B']);

    // A dry run counts and changes nothing.
    const dry = await runCli(['--dry-run'], env);
    assert.equal(dry.code, 1, dry.stderr);
    const dryReport = JSON.parse(dry.stdout) as { totals: { found: number; reencrypted: number } };
    assert.equal(dryReport.totals.found, before.B);
    assert.equal(dryReport.totals.reencrypted, 0);
    assert.deepEqual(await countBlobsByKid(db), before);

    // The web process already runs with the new keyring and keeps storing events meanwhile.
    const web = await startLightWeb({}, { dbName, keySpec: `${specC},${specB}` });
    let posting = true;
    let posted = 0;
    const traffic = (async () => {
      while (posting) {
        const raw = JSON.stringify(freshEvent('app.installed'));
        const answer = await send(web.web.url, raw, {
          headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) },
        });
        assert.equal(answer.status, 200, answer.text);
        posted += 1;
      }
    })();
    let run: Awaited<ReturnType<typeof runCli>>;
    try {
      run = await runCli(['--batch-size', '3'], env);
    } finally {
      posting = false;
      await traffic;
      await web.close();
    }
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { complete: boolean; currentKid: string; totals: { reencrypted: number; remaining: number } };
    assert.equal(report.complete, true);
    assert.equal(report.currentKid, 'C');
    assert.equal(report.totals.reencrypted, before.B);
    assert.match(run.stderr, /complete; every secret is under key C/);
    assert.ok(posted > 0, 'events arrived during the run');
    const after = await countBlobsByKid(db);
    assert.deepEqual(Object.keys(after), ['C']);
    assert.equal(after.C, before.B! + posted, 'old blobs moved, new ones written under C');

    // Reads with C alone; the output names key ids only.
    const storeC = createStore(db, parseKeyring(specC));
    const s = seeded[5]!;
    assert.deepEqual((await storeC.credentials.usable(s.installationId, s.clientId))?.secret, s.secret);
    for (const text of [dry.stdout, dry.stderr, run.stdout, run.stderr]) {
      for (const key of keyMaterial) assert.ok(!text.includes(key) && !text.includes(key.slice(0, 16)), 'no key material in the output');
      for (const x of seeded) assert.ok(!text.includes(x.secret.clientSecret) && !text.includes(x.token));
    }
  });

  it('reports blobs it cannot decrypt (missing key, moved to another installation) and exits 1; a bad setting exits 2', async () => {
    // A set written under B after B was retired from this keyring, and a blob moved to another record.
    const storeB = createStore(db, parseKeyring(specB));
    await storeB.credentials.importPending({
      installationId: 'inst-late',
      clientId: 'client-late',
      keyId: 'kid-late',
      keyAlgorithm: 'ES256',
      tokenUrl: 'https://example.talkdeskid.com/oauth/token',
      sourceEventId: 'evt-late',
      secretFrom: credentialSecretContext('inst-late', 'client-late'),
      secret: storeB.credentials.encryptSecret('inst-late', 'client-late', {
        clientSecret: 'late-secret-000000000000',
        privateKey: 'pk',
        publicKey: 'pub',
      }),
    });
    // Another installation's blob (under B) copied onto this record: the AAD must refuse it.
    const victim = seeded[6]!;
    const movedUnderB = storeB.credentials.encryptSecret('inst-other', victim.clientId, {
      clientSecret: 'other-secret-00000000000',
      privateKey: 'pk',
      publicKey: 'pub',
    });
    await db
      .collection(COLLECTIONS.credentials)
      .updateOne({ _id: `${victim.installationId}:${victim.clientId}` as never }, { $set: { secret: movedUnderB } });

    const run = await runCli([], { MONGODB_URI: uri, MONGODB_DB: dbName, SECRETS_KEY: `${specC},${specB}` });
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as {
      fields: { collection: string; failed: number; failedKids: Record<string, number>; reencrypted: number }[];
    };
    const creds = report.fields.find((f) => f.collection === 'credentials')!;
    assert.equal(creds.reencrypted, 1, 'the late set under B is re-encrypted');
    assert.equal(creds.failed, 1, 'the moved blob does not decrypt for another installation');
    assert.deepEqual(creds.failedKids, { B: 1 });
    assert.match(run.stderr, /could not be decrypted \(key ids \{"B":1\}\)/);
    assert.deepEqual(
      (await db.collection(COLLECTIONS.credentials).findOne({ _id: `${victim.installationId}:${victim.clientId}` as never }))?.secret,
      movedUnderB,
      'left as it was',
    );

    const onlyC = await runCli([], { MONGODB_URI: uri, MONGODB_DB: dbName, SECRETS_KEY: specC });
    assert.equal(onlyC.code, 1);
    assert.match(onlyC.stderr, /add the missing keys to SECRETS_KEY/);

    const bad = await runCli([], { MONGODB_URI: uri, MONGODB_DB: dbName });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /SECRETS_KEY/);
    const badArg = await runCli(['--batch-size', '0'], { MONGODB_URI: uri, MONGODB_DB: dbName, SECRETS_KEY: specC });
    assert.equal(badArg.code, 2);
    assert.match(badArg.stderr, /--batch-size/);
    // `npm run reencrypt --dry-run` (no `--`): npm keeps the flag and runs the command bare. Refused, nothing written.
    const before = await db
      .collection(COLLECTIONS.credentials)
      .find({}, { projection: { secret: 1 } })
      .toArray();
    const viaNpm = await runCli([], { MONGODB_URI: uri, MONGODB_DB: dbName, SECRETS_KEY: `${specC},${specB}`, npm_config_dry_run: 'true' });
    assert.equal(viaNpm.code, 2, viaNpm.stdout);
    assert.match(viaNpm.stderr, /--dry-run went to npm, not to this command, so nothing was done; run: npm run reencrypt -- --dry-run/);
    assert.deepEqual(
      await db
        .collection(COLLECTIONS.credentials)
        .find({}, { projection: { secret: 1 } })
        .toArray(),
      before,
    );
  });
});
