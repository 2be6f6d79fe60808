import { constants, createHash, randomUUID, sign, type KeyObject } from 'node:crypto';
import { ExpiringMap } from '../memory/expiring-map';
import { ClientAssertionError } from './errors';
import { readPrivateKey } from './private-key';

/** The signing algorithms Talkdesk issues keys for (`key_algorithm`). */
export const TALKDESK_KEY_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;
export type TalkdeskKeyAlgorithm = (typeof TALKDESK_KEY_ALGORITHMS)[number];

/** Lifetime of an assertion: Talkdesk documents exp = iat + 300 s. */
export const CLIENT_ASSERTION_TTL_SECONDS = 300;

const CURVE_FOR: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };

export interface ClientAssertionInput {
  clientId: string;
  keyId: string;
  algorithm: TalkdeskKeyAlgorithm;
  /** base64 PKCS#8 DER, PEM, or base64 of a PEM. */
  privateKey: string;
  /** The token endpoint (the event's `_links.tokens.href`); becomes `aud`. */
  tokenUrl: string;
  /** Clock for iat/exp: a Date or epoch milliseconds. Defaults to now. */
  now?: Date | number;
}

export function isTalkdeskKeyAlgorithm(value: unknown): value is TalkdeskKeyAlgorithm {
  return typeof value === 'string' && (TALKDESK_KEY_ALGORITHMS as readonly string[]).includes(value);
}

const DIGEST: Record<TalkdeskKeyAlgorithm, { hash: string; bytes: number }> = {
  ES256: { hash: 'sha256', bytes: 32 },
  ES384: { hash: 'sha384', bytes: 48 },
  ES512: { hash: 'sha512', bytes: 64 },
  PS256: { hash: 'sha256', bytes: 32 },
  PS384: { hash: 'sha384', bytes: 48 },
  PS512: { hash: 'sha512', bytes: 64 },
};

/**
 * Keys already read and checked, by a hash of the key and algorithm (most recently used last):
 * a sign-in or token request of an installation seen before skips parsing its key twice
 * (a few milliseconds of CPU each time). In this process's memory only, and dropped after
 * SIGNING_KEY_IDLE_MS unused (a destroyed set's key is not kept for the process's life).
 */
export const SIGNING_KEY_IDLE_MS = 10 * 60_000;
const SIGNING_KEYS_KEPT = 256;
const signingKeys = new ExpiringMap<KeyObject>(SIGNING_KEY_IDLE_MS, SIGNING_KEYS_KEPT, true);

function signingKeyFor(privateKey: string, algorithm: TalkdeskKeyAlgorithm): KeyObject {
  const id = createHash('sha256').update(`${algorithm}\0${privateKey}`).digest('base64url');
  const kept = signingKeys.get(id);
  if (kept) return kept;
  const keyObject = readPrivateKey(privateKey);
  const type = keyObject.asymmetricKeyType;
  const fits = algorithm.startsWith('ES')
    ? type === 'ec' && keyObject.asymmetricKeyDetails?.namedCurve === CURVE_FOR[algorithm]
    : (type === 'rsa' || type === 'rsa-pss') && (keyObject.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  if (!fits) {
    const rsaHint = algorithm.startsWith('PS') ? ' (an RSA key of at least 2048 bits)' : '';
    throw new ClientAssertionError(`the private key does not fit ${algorithm}${rsaHint}`);
  }
  signingKeys.set(id, keyObject);
  return keyObject;
}

const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * JWS compact signature (RFC 7515/7518) with Node's crypto, synchronously: ECDSA as the
 * fixed-size r||s the JWS form requires, RSASSA-PSS with MGF1 and a salt the digest's size.
 */
function signJws(key: KeyObject, algorithm: TalkdeskKeyAlgorithm, signingInput: string): string {
  const { hash, bytes } = DIGEST[algorithm];
  const signature = algorithm.startsWith('ES')
    ? sign(hash, Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' })
    : sign(hash, Buffer.from(signingInput), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bytes });
  return signature.toString('base64url');
}

/**
 * A compact JWT for `client_assertion` (RFC 7523): header alg/kid/typ, claims
 * iss = sub = clientId, aud = tokenUrl, fresh jti, iat, exp = iat + 300 s.
 * Throws ClientAssertionError when the key or algorithm is unusable.
 */
export async function createClientAssertion(input: ClientAssertionInput): Promise<string> {
  const { clientId, keyId, algorithm, tokenUrl } = input;
  if (!isTalkdeskKeyAlgorithm(algorithm)) {
    throw new ClientAssertionError(`key algorithm must be one of ${TALKDESK_KEY_ALGORITHMS.join(', ')}`);
  }
  if (!clientId || !keyId || !tokenUrl) {
    throw new ClientAssertionError('client id, key id and token URL are all required');
  }

  const signingKey = signingKeyFor(input.privateKey, algorithm);
  const nowMs = input.now === undefined ? Date.now() : typeof input.now === 'number' ? input.now : input.now.getTime();
  const iat = Math.floor(nowMs / 1000);
  const signingInput = `${part({ alg: algorithm, kid: keyId, typ: 'JWT' })}.${part({
    iss: clientId,
    sub: clientId,
    aud: tokenUrl,
    jti: randomUUID(),
    iat,
    exp: iat + CLIENT_ASSERTION_TTL_SECONDS,
  })}`;
  try {
    return `${signingInput}.${signJws(signingKey, algorithm, signingInput)}`;
  } catch {
    throw new ClientAssertionError(`signing with ${algorithm} failed`);
  }
}
