import { createPrivateKey, type KeyObject } from 'node:crypto';
import { ClientAssertionError } from './errors';

/**
 * Talkdesk sends `private_key` as "base64-encoded PKCS#8", which in practice can
 * mean base64 of the DER bytes or base64 of a whole PEM file; configuration and
 * tests may also hand over the PEM itself. All three land here.
 */

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

function fromPem(pem: string): KeyObject {
  // A PEM that went through a JSON or env layer may keep literal "\n" sequences.
  return createPrivateKey(pem.includes('\\n') ? pem.replace(/\\n/g, '\n') : pem);
}

/** A Node KeyObject from any accepted form; ClientAssertionError (no key material in it) otherwise. */
export function readPrivateKey(input: string): KeyObject {
  const text = input.trim();
  try {
    if (text.includes('-----BEGIN')) return fromPem(text);
    const compact = text.replace(/\s+/g, '');
    if (!compact || !BASE64.test(compact)) throw new Error('not base64');
    const bytes = Buffer.from(compact, 'base64');
    const decoded = bytes.toString('latin1');
    if (decoded.trimStart().startsWith('-----BEGIN')) return fromPem(decoded);
    return createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' });
  } catch {
    // Parser messages are dropped on purpose: they are not needed and must not risk echoing key bytes.
    throw new ClientAssertionError('the private key is not a PEM, base64 PEM or base64 PKCS#8 DER key');
  }
}
