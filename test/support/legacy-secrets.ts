import { createCipheriv, randomBytes } from 'node:crypto';
import type { EncryptedBlob, Keyring } from '../../src/crypto/secrets';

/**
 * A version 1 blob exactly as earlier versions wrote it (AES-256-GCM, the
 * installation id alone as AAD): what a database upgraded from them holds. The
 * service no longer writes this format, so tests of reading and migrating it
 * build it here.
 */
export function legacyBlob(keyring: Keyring, kid: string, value: unknown, installationId: string): EncryptedBlob {
  const key = keyring.key(kid);
  if (!key) throw new Error(`no key ${kid}`);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(installationId, 'utf8'));
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return { v: 1, kid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}
