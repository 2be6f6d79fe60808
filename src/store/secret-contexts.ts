import type { SecretContext } from '../crypto/secrets';
import { COLLECTIONS } from './db';

/**
 * The binding (AAD) of every encrypted field the service writes, in one place:
 * writers, readers and `npm run reencrypt` (ENCRYPTED_FIELDS) must agree on it.
 * A new encrypted field adds its own function here and an ENCRYPTED_FIELDS entry.
 */

/** An event's credentials while they wait for the import (`event_credentials.secret`). */
export const eventCredentialsContext = (installationId: string, clientId: string): SecretContext => ({
  installationId,
  collection: COLLECTIONS.eventCredentials,
  field: 'secret',
  clientId,
});

/**
 * An event's credentials in an inbox record of an older version (`inbox.credentials`,
 * moved to `event_credentials` at start): read only, never written.
 */
export const inboxCredentialsContext = (installationId: string, clientId: string): SecretContext => ({
  installationId,
  collection: COLLECTIONS.inbox,
  field: 'credentials',
  clientId,
});

/** A credential set's secret (`credentials.secret`). */
export const credentialSecretContext = (installationId: string, clientId: string): SecretContext => ({
  installationId,
  collection: COLLECTIONS.credentials,
  field: 'secret',
  clientId,
});

/** A cached access token of a credential set (`tokens.token`). */
export const tokenContext = (installationId: string, clientId: string): SecretContext => ({
  installationId,
  collection: COLLECTIONS.tokens,
  field: 'token',
  clientId,
});

/**
 * A sign-in state sealed into the `appconnect_sso` cookie (src/sso/sealed-state.ts): bound to
 * its installation and to the exact state it goes with. Never stored, so not re-encrypted.
 */
export const signInStateCookieContext = (installationId: string, stateHash: string): SecretContext => ({
  installationId,
  collection: 'cookie',
  field: 'appconnect_sso',
  clientId: stateHash,
});
