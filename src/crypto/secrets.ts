import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretDecryptError, SecretEncryptError } from './errors';
import type { Keyring } from './keyring';

/**
 * Secrets at rest: AES-256-GCM over the JSON of a value. The caller's `aad` (the
 * installation id) is bound as additional data, so a blob copied to another
 * installation's record fails to decrypt instead of handing over its credentials.
 */

export { Keyring, parseKeyring, generateKeySpec, DEFAULT_KEY_ID } from './keyring';
export { SecretDecryptError, SecretEncryptError } from './errors';

/** What is stored: the key id beside the ciphertext, so old blobs still find their key. */
export interface EncryptedBlob {
  v: 1;
  kid: string;
  iv: string; // base64, 12 bytes
  tag: string; // base64, 16 bytes
  ct: string; // base64
}

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function encryptJson(keyring: Keyring, value: unknown, aad: string): EncryptedBlob {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) throw new SecretEncryptError('Cannot encrypt a value that has no JSON form (undefined or a function)');
  const kid = keyring.currentKid;
  const key = keyring.key(kid);
  if (!key) throw new SecretEncryptError(`Current key id ${JSON.stringify(kid)} has no key`);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
  return { v: 1, kid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeField(value: unknown, bytes?: number): Buffer | undefined {
  if (typeof value !== 'string' || !BASE64.test(value)) return undefined;
  const buf = Buffer.from(value, 'base64');
  return bytes === undefined || buf.length === bytes ? buf : undefined;
}

/** The stored kid, shortened for messages: it comes from the database, not from us. */
function kidOf(blob: unknown): string {
  const kid = typeof blob === 'object' && blob !== null ? (blob as { kid?: unknown }).kid : undefined;
  return typeof kid === 'string' ? kid.slice(0, 64) : '?';
}

/**
 * Decrypts a blob written by encryptJson with the same `aad`. The result is the
 * stored JSON, typed by the caller's word: validate it if it matters.
 */
export function decryptJson<T>(keyring: Keyring, blob: EncryptedBlob, aad: string): T {
  const kid = kidOf(blob);
  if (typeof blob !== 'object' || blob === null || blob.v !== 1) {
    throw new SecretDecryptError(kid, 'not a version 1 encrypted blob');
  }
  const key = keyring.key(blob.kid);
  if (!key) throw new SecretDecryptError(kid, 'unknown key id; add that key to SECRETS_KEY after the current one');
  const iv = decodeField(blob.iv, IV_BYTES);
  const tag = decodeField(blob.tag, TAG_BYTES);
  const ct = decodeField(blob.ct);
  if (!iv || !tag || !ct) throw new SecretDecryptError(kid, 'malformed iv, tag or ciphertext');
  let json: string;
  try {
    // authTagLength pins the tag size: without it a truncated tag would be accepted.
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    json = Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretDecryptError(kid, 'authentication failed (tampered, stored under another installation, or the key changed)');
  }
  try {
    return JSON.parse(json) as T;
  } catch {
    throw new SecretDecryptError(kid, 'decrypted data is not JSON');
  }
}

/** True when the blob was written with a key other than the one that now encrypts. */
export function needsReencryption(keyring: Keyring, blob: EncryptedBlob): boolean {
  return blob.kid !== keyring.currentKid;
}

/** Decrypts with whichever key wrote the blob and encrypts again with the current key. */
export function reencrypt(keyring: Keyring, blob: EncryptedBlob, aad: string): EncryptedBlob {
  return encryptJson(keyring, decryptJson<unknown>(keyring, blob, aad), aad);
}
