import assert from 'node:assert/strict';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { credentialSecretContext } from '../../src/store/secret-contexts';
import { mongoUri, uniqueDbName } from '../support/servers';

/**
 * An import attempt the workflow no longer waits for (its install was interrupted by the uninstall) can
 * write its set after the uninstall's destroyAll listed the installation's sets. The import then finds
 * the installation's close count moved and destroys what it wrote; before, the set stayed, its secret
 * encrypted but kept, and an install's set stayed `active`, out of reach of every backstop.
 */
describe('credentials: an import finishing after the installation was closed', function () {
  this.timeout(60_000);
  const keyring = parseKeyring(generateKeySpec('A'));
  let db: Database;
  let importer: Store; // the abandoned import attempt's worker
  let uninstaller: Store; // the uninstall's, on another connection

  beforeEach(async () => {
    const uri = await mongoUri();
    const name = uniqueDbName('closes');
    db = await connectDatabase(uri, name);
    importer = createStore(db, keyring);
    await importer.ensureIndexes();
    uninstaller = createStore(await connectDatabase(uri, name), keyring);
  });
  afterEach(async () => {
    await uninstaller.db.close();
    await db.db.dropDatabase();
    await db.close();
  });

  const importSet = (installationId: string, clientId: string) =>
    importer.credentials.importPending({
      installationId,
      clientId,
      keyId: 'kid',
      keyAlgorithm: 'ES256',
      tokenUrl: 'https://x.talkdeskid.com/oauth/token',
      sourceEventId: `evt-${clientId}`,
      secret: importer.credentials.encryptSecret(installationId, clientId, { clientSecret: 's', privateKey: 'pk', publicKey: 'pub' }),
      secretFrom: credentialSecretContext(installationId, clientId),
    });

  /** Runs `during` between the import's first read and its writes (its index entry, then the set). */
  function interleave(during: () => Promise<unknown>): void {
    const creds = importer.credentials as unknown as { index: (...a: unknown[]) => Promise<void> };
    const index = creds.index.bind(creds);
    creds.index = async (...a: unknown[]) => {
      await during();
      return index(...a);
    };
  }

  it("a destroyAll between the import's read and its write: the set written is destroyed, and the import says so", async () => {
    interleave(async () => assert.equal(await uninstaller.credentials.destroyAll('inst-1'), 0, 'nothing to list yet'));
    const result = await importSet('inst-1', 'client-1');
    assert.deepEqual(result, { destroyedMeanwhile: true });
    const rec = await uninstaller.credentials.get('inst-1', 'client-1');
    assert.equal(rec?.status, 'destroyed');
    assert.equal(rec?.secret, undefined, 'the ciphertext is deleted, not only marked');
    assert.equal(await uninstaller.credentials.usable('inst-1', 'client-1'), undefined);
  });

  it('a destroyAll before the import started (a reinstall after the uninstall): the new set is kept', async () => {
    await importSet('inst-2', 'old');
    await importer.credentials.activate('inst-2', 'old');
    assert.equal(await uninstaller.credentials.destroyAll('inst-2'), 1);
    const result = await importSet('inst-2', 'new');
    assert.deepEqual(result, { destroyedMeanwhile: false });
    assert.equal((await uninstaller.credentials.get('inst-2', 'new'))?.status, 'pending');
    assert.ok(await uninstaller.credentials.usable('inst-2', 'new'), 'its secret is there');
  });

  it('a destroyAll after the import wrote its set lists and destroys it, as before', async () => {
    assert.deepEqual(await importSet('inst-3', 'client-3'), { destroyedMeanwhile: false });
    assert.equal(await uninstaller.credentials.destroyAll('inst-3'), 1);
    assert.equal((await uninstaller.credentials.get('inst-3', 'client-3'))?.status, 'destroyed');
  });
});
