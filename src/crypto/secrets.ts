import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretDecryptError, SecretEncryptError } from './errors';
import type { Keyring } from './keyring';

/**
 * Secrets at rest: AES-256-GCM over the JSON of a value. Where the blob belongs is
 * bound as additional data (AAD): the installation, the collection and field, the
 * Talkdesk client id when the blob is a credential set or its token, and the key
 * id. A blob copied to another installation, another field or another credential
 * set (or relabelled with another key id) fails to decrypt instead of being used
 * there.
 *
 * Version 1 blobs bound the installation id only. They are still read (with that
 * binding) until `npm run reencrypt` rewrites them as version 2; nothing writes
 * version 1 any more.
 */

/** Where a secret lives; each caller passes its own (a new collection passes its name and field). */
export interface SecretContext {
  installationId: string;
  /** MongoDB collection of the document holding the blob. */
  collection: string;
  /** Dotted path of the blob in that document. */
  field: string;
  /** The Talkdesk client id, when the blob is a credential set or one of its tokens. */
  clientId?: string;
}

export { Keyring, parseKeyring, generateKeySpec, DEFAULT_KEY_ID } from './keyring';
export { SecretDecryptError, SecretEncryptError } from './errors';

/** What is stored: the key id beside the ciphertext, so old blobs still find their key. */
export interface EncryptedBlob {
  v: 1 | 2;
  kid: string;
  iv: string; // base64, 12 bytes
  tag: string; // base64, 16 bytes
  ct: string; // base64
}

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const CURRENT_BLOB_VERSION = 2;

/** The AAD of a version 2 blob: a JSON array, so no two contexts encode alike. */
function aadV2(kid: string, c: SecretContext): Buffer {
  return Buffer.from(JSON.stringify(['appconnect-secret', 2, kid, c.installationId, c.collection, c.field, c.clientId ?? null]), 'utf8');
}

function aadOf(blob: EncryptedBlob, c: SecretContext): Buffer {
  return blob.v === 1 ? Buffer.from(c.installationId, 'utf8') : aadV2(blob.kid, c);
}

export function encryptJson(keyring: Keyring, value: unknown, context: SecretContext): EncryptedBlob {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) throw new SecretEncryptError('Cannot encrypt a value that has no JSON form (undefined or a function)');
  const kid = keyring.currentKid;
  const key = keyring.key(kid);
  if (!key) throw new SecretEncryptError(`Current key id ${JSON.stringify(kid)} has no key`);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadV2(kid, context));
  const ct = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
  return { v: 2, kid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
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
 * Decrypts a blob written by encryptJson for the same context (a version 1 blob:
 * for the same installation). The result is the stored JSON, typed by the
 * caller's word: validate it if it matters.
 */
export function decryptJson<T>(keyring: Keyring, blob: EncryptedBlob, context: SecretContext): T {
  const kid = kidOf(blob);
  if (typeof blob !== 'object' || blob === null || (blob.v !== 1 && blob.v !== 2) || typeof blob.kid !== 'string') {
    throw new SecretDecryptError(kid, 'not a version 1 or 2 encrypted blob');
  }
  const key = keyring.key(blob.kid);
  if (!key) throw new SecretDecryptError(kid, 'unknown key id; add that key to SECRETS_KEY after the current one', true);
  const iv = decodeField(blob.iv, IV_BYTES);
  const tag = decodeField(blob.tag, TAG_BYTES);
  const ct = decodeField(blob.ct);
  if (!iv || !tag || !ct) throw new SecretDecryptError(kid, 'malformed iv, tag or ciphertext');
  let json: string;
  try {
    // authTagLength pins the tag size: without it a truncated tag would be accepted.
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aadOf(blob, context));
    decipher.setAuthTag(tag);
    json = Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretDecryptError(
      kid,
      'authentication failed (tampered, moved from another installation, field or credential set, or the key changed)',
    );
  }
  try {
    return JSON.parse(json) as T;
  } catch {
    throw new SecretDecryptError(kid, 'decrypted data is not JSON');
  }
}

/** True when the blob was written with a key other than the one that now encrypts, or with the old binding. */
export function needsReencryption(keyring: Keyring, blob: EncryptedBlob): boolean {
  return blob.kid !== keyring.currentKid || blob.v !== CURRENT_BLOB_VERSION;
}

/** Decrypts with whichever key and binding wrote the blob and encrypts again with the current key and binding. */
export function reencrypt(keyring: Keyring, blob: EncryptedBlob, context: SecretContext): EncryptedBlob {
  return encryptJson(keyring, decryptJson<unknown>(keyring, blob, context), context);
}

/** Moves a blob to another place (e.g. an event's credentials into the credential store): decrypted from one binding, encrypted for the other. */
export function rebind(keyring: Keyring, blob: EncryptedBlob, from: SecretContext, to: SecretContext): EncryptedBlob {
  return encryptJson(keyring, decryptJson<unknown>(keyring, blob, from), to);
}
