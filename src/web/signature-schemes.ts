import { createPublicKey, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ConfigError } from '../errors';
import { verifyEcdsaSignature, verifyHubSignature, type EcdsaPublicKeys, type HubAlgorithm } from './signature';

/**
 * Which callback signatures are accepted (CALLBACK_SIGNATURE_SCHEMES) and the
 * material each checks against. An event passes when one enabled scheme verifies
 * over the raw bytes; a scheme that is not enabled is never consulted, whatever
 * headers the request carries.
 */
export const SIGNATURE_SCHEMES = ['hmac', 'ecdsa'] as const;
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[number];
/** CALLBACK_SIGNATURE_SCHEMES when not set. */
export const DEFAULT_SIGNATURE_SCHEMES: readonly SignatureScheme[] = ['hmac'];

export const HMAC_HEADER = 'x-hub-signature';
export const ECDSA_HEADER = 'x-hub-ecdsa-signature';
export const ECDSA_KEY_ID_HEADER = 'x-hub-ecdsa-signature-id';

export interface SignatureConfig {
  schemes: readonly SignatureScheme[];
  /** HMAC secrets, all valid at once (rotation). */
  webhookSecrets: readonly string[];
  /** ECDSA public keys by the id sent in X-Hub-Ecdsa-Signature-Id, all valid at once. */
  ecdsaPublicKeys: EcdsaPublicKeys;
  /** HMAC algorithms accepted in the header's prefix (CALLBACK_HMAC_ALGORITHMS; sha256 and sha512 by default). */
  hmacAlgorithms?: readonly HubAlgorithm[];
}

/** The scheme whose signature verified, or undefined: refuse the request. */
export function verifyCallbackSignature(raw: Buffer, headers: IncomingHttpHeaders, config: SignatureConfig): SignatureScheme | undefined {
  if (config.schemes.includes('hmac')) {
    const options = config.hmacAlgorithms ? { algorithms: config.hmacAlgorithms } : {};
    if (verifyHubSignature(raw, headers[HMAC_HEADER], config.webhookSecrets, options)) return 'hmac';
  }
  if (config.schemes.includes('ecdsa') && config.ecdsaPublicKeys.size > 0) {
    if (verifyEcdsaSignature(raw, headers[ECDSA_HEADER], headers[ECDSA_KEY_ID_HEADER], config.ecdsaPublicKeys)) return 'ecdsa';
  }
  return undefined;
}

/** What a 401 tells the sender to send, for the schemes enabled. */
export function expectedSignatureText(schemes: readonly SignatureScheme[]): string {
  const parts: string[] = [];
  if (schemes.includes('hmac')) parts.push('x-hub-signature (sha256=<hex HMAC of the raw body>, or the hex alone)');
  if (schemes.includes('ecdsa')) parts.push('X-Hub-Ecdsa-Signature (hex ECDSA/SHA-512 of the raw body) with X-Hub-Ecdsa-Signature-Id');
  return parts.join(' or ');
}

const KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses TALKDESK_ECDSA_PUBLIC_KEYS: comma-separated `<keyId>:<key>` entries, the key
 * as base64 SPKI DER (Talkdesk's form) or PEM (`\n` may be written as a literal
 * backslash-n, as env files often hold it). Only EC public keys are accepted.
 * Throws ConfigError naming the entry by position; never quotes a key.
 */
export function parseEcdsaPublicKeys(spec: string): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const bad = (position: number, why: string) =>
    new ConfigError(`entry ${position}: ${why}; expected "<keyId>:<base64 SPKI DER or PEM EC public key>" entries, comma-separated`);
  spec.split(',').forEach((raw, index) => {
    const position = index + 1;
    const entry = raw.trim();
    if (entry === '') throw bad(position, 'is empty');
    const colon = entry.indexOf(':');
    if (colon <= 0) throw bad(position, 'has no key id');
    const keyId = entry.slice(0, colon).trim();
    const text = entry
      .slice(colon + 1)
      .trim()
      .replace(/\\n/g, '\n');
    if (!KEY_ID.test(keyId)) throw bad(position, 'key id must be 1-128 letters, digits, ".", "_" or "-"');
    if (keys.has(keyId)) throw bad(position, 'repeats a key id of an earlier entry');
    let key: KeyObject;
    try {
      if (text.includes('-----BEGIN')) {
        if (/PRIVATE KEY-----/.test(text)) throw bad(position, 'is a private key; give the public key');
        key = createPublicKey(text);
      } else {
        const compact = text.replace(/\s+/g, '');
        if (!BASE64.test(compact)) throw bad(position, 'is neither PEM nor base64');
        key = createPublicKey({ key: Buffer.from(compact, 'base64'), format: 'der', type: 'spki' });
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw bad(position, 'is not a readable public key');
    }
    if (key.asymmetricKeyType !== 'ec') throw bad(position, `is a ${key.asymmetricKeyType ?? 'non-EC'} key, not an EC key`);
    keys.set(keyId, key);
  });
  if (keys.size === 0) throw new ConfigError('holds no key');
  return keys;
}
