import { AppError } from '../errors';

/**
 * A stored secret could not be decrypted: wrong installation (aad), tampered data,
 * or a key id missing from SECRETS_KEY. Carries the key id, never the plaintext.
 */
export class SecretDecryptError extends AppError {
  constructor(
    readonly kid: string,
    reason: string,
    /** SECRETS_KEY does not list the blob's key id: a setting to fix, not damaged data. */
    readonly unknownKey = false,
  ) {
    super(`Cannot decrypt secret (key id ${JSON.stringify(kid)}): ${reason}`);
  }
}

/** A value could not be encrypted (e.g. it has no JSON form). Never quotes the value. */
export class SecretEncryptError extends AppError {}
