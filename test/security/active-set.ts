import { parseKeyring } from '../../src/crypto/secrets';
import { createStore, type Database, type Store } from '../../src/store';
import { credentialSecretContext } from '../../src/store/secret-contexts';

/** One active credential set of `installationId` encrypted under the key `spec` (the re-encryption tests); its store. */
export async function activeSetUnder(db: Database, spec: string, installationId: string, clientId: string): Promise<Store> {
  const store = createStore(db, parseKeyring(spec));
  await store.ensureIndexes();
  const secret = { clientSecret: 'cs-active-set-0123456789', privateKey: 'pk-active-set', publicKey: 'pub' };
  await store.credentials.importPending({
    installationId,
    clientId,
    keyId: 'kid-1',
    keyAlgorithm: 'ES256',
    tokenUrl: 'https://example.talkdeskid.com/oauth/token',
    sourceEventId: `evt-${installationId}`,
    secret: store.credentials.encryptSecret(installationId, clientId, secret),
    secretFrom: credentialSecretContext(installationId, clientId),
  });
  await store.credentials.activate(installationId, clientId);
  return store;
}
