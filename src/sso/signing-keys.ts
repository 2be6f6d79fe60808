import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import { ConfigError } from '../errors';

/** One hand-off signing key: ES256 (EC P-256), published by its `kid`. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * Parses SSO_SIGNING_KEYS: `<kid>:<base64 PKCS#8 EC P-256 private key>` entries, comma-separated.
 * The first signs; all are published (rotation, docs/launch.md: add the new key second, list it first once every
 * verifier's cached key set holds it, five minutes, then drop the old one a minute later). The error never quotes a key.
 */
export function parseSigningKeys(spec: string | undefined): SigningKey[] {
  if (spec === undefined || spec.trim() === '') return [];
  const keys: SigningKey[] = [];
  for (const [i, entry] of spec
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0)
    .entries()) {
    const colon = entry.indexOf(':');
    const kid = colon > 0 ? entry.slice(0, colon) : '';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(kid))
      throw new ConfigError(`SSO_SIGNING_KEYS entry ${i + 1}: must start with a key id "<kid>:" (letters, digits, . _ -)`);
    if (keys.some((k) => k.kid === kid)) throw new ConfigError(`SSO_SIGNING_KEYS: key id ${kid} is listed twice`);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: Buffer.from(entry.slice(colon + 1), 'base64'), format: 'der', type: 'pkcs8' });
    } catch {
      throw new ConfigError(`SSO_SIGNING_KEYS key ${kid}: not a base64 PKCS#8 DER private key`);
    }
    if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new ConfigError(`SSO_SIGNING_KEYS key ${kid}: must be an EC P-256 key (ES256)`);
    }
    keys.push({ kid, privateKey, publicKey: createPublicKey(privateKey) });
  }
  return keys;
}

/** A fresh `<kid>:<base64 PKCS#8>` entry (npm start's dev key, tests). */
export function generateSigningKeySpec(kid: string): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return `${kid}:${privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64')}`;
}

/** The JSON Web Key Set served at /.well-known/jwks.json: public halves only. */
export async function publicJwks(keys: readonly SigningKey[]): Promise<{ keys: JWK[] }> {
  const out: JWK[] = [];
  for (const k of keys) {
    const jwk = await exportJWK(k.publicKey);
    out.push({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: k.kid, alg: 'ES256', use: 'sig' });
  }
  return { keys: out };
}
