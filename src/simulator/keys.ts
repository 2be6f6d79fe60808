import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { hexId } from './ids';
import { KEY_ALGORITHMS, type KeyAlgorithm } from './types';

/** Key material as an app.installed event carries it. */
export interface InstallationKeys {
  /** base64 of the DER PKCS#8 private key (no PEM armour). */
  private_key: string;
  /** base64 of the DER SPKI public key. */
  public_key: string;
  /** Fresh 32-hex key id. */
  key_id: string;
  key_algorithm: KeyAlgorithm;
}

const CURVES: Partial<Record<KeyAlgorithm, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

export function isKeyAlgorithm(value: unknown): value is KeyAlgorithm {
  return typeof value === 'string' && (KEY_ALGORITHMS as readonly string[]).includes(value);
}

/** A real key pair for one of the six algorithms Talkdesk issues. */
export function generateInstallationKeys(alg: KeyAlgorithm): InstallationKeys {
  if (!isKeyAlgorithm(alg)) throw new Error(`unsupported key algorithm: ${String(alg)}`);
  const curve = CURVES[alg];
  const publicKeyEncoding = { type: 'spki', format: 'der' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'der' } as const;
  // PS* use a plain rsaEncryption key (the common form); PSS is a property of the signature.
  const pair = curve
    ? generateKeyPairSync('ec', { namedCurve: curve, publicKeyEncoding, privateKeyEncoding })
    : generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding, privateKeyEncoding });
  return {
    private_key: pair.privateKey.toString('base64'),
    public_key: pair.publicKey.toString('base64'),
    key_id: hexId(),
    key_algorithm: alg,
  };
}

/** The PEM form of a base64 DER PKCS#8 key, as a client would build it before signing. */
export function privateKeyPem(privateKeyBase64: string): string {
  const key = createPrivateKey({ key: Buffer.from(privateKeyBase64, 'base64'), format: 'der', type: 'pkcs8' });
  return String(key.export({ format: 'pem', type: 'pkcs8' })).trim();
}
