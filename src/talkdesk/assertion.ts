import { createHash, randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';
import { ClientAssertionError } from './errors';
import { readPrivateKey, toPkcs8Pem } from './private-key';

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

type SigningKey = Awaited<ReturnType<typeof importPKCS8>>;

/**
 * Keys already imported, by a hash of the key and algorithm (most recently used last): a
 * sign-in or token request of an installation seen before skips parsing its key twice
 * (a few milliseconds of CPU each time). Non-extractable, in this process's memory only.
 */
const signingKeys = new Map<string, SigningKey>();
const SIGNING_KEYS_KEPT = 256;

async function signingKeyFor(privateKey: string, algorithm: TalkdeskKeyAlgorithm): Promise<SigningKey> {
  const id = createHash('sha256').update(`${algorithm}\0${privateKey}`).digest('base64url');
  const kept = signingKeys.get(id);
  if (kept) {
    signingKeys.delete(id);
    signingKeys.set(id, kept);
    return kept;
  }
  const keyObject = readPrivateKey(privateKey);
  const type = keyObject.asymmetricKeyType;
  const fits = algorithm.startsWith('ES')
    ? type === 'ec' && keyObject.asymmetricKeyDetails?.namedCurve === CURVE_FOR[algorithm]
    : type === 'rsa' || type === 'rsa-pss';
  if (!fits) throw new ClientAssertionError(`the private key does not fit ${algorithm}`);
  let key: SigningKey;
  try {
    key = await importPKCS8(toPkcs8Pem(keyObject), algorithm);
  } catch {
    throw new ClientAssertionError(`the private key cannot be used for ${algorithm}`);
  }
  signingKeys.set(id, key);
  if (signingKeys.size > SIGNING_KEYS_KEPT) signingKeys.delete(signingKeys.keys().next().value as string);
  return key;
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

  const signingKey = await signingKeyFor(input.privateKey, algorithm);
  const nowMs = input.now === undefined ? Date.now() : typeof input.now === 'number' ? input.now : input.now.getTime();
  const iat = Math.floor(nowMs / 1000);
  try {
    return await new SignJWT({})
      .setProtectedHeader({ alg: algorithm, kid: keyId, typ: 'JWT' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(iat + CLIENT_ASSERTION_TTL_SECONDS)
      .sign(signingKey);
  } catch {
    throw new ClientAssertionError(`signing with ${algorithm} failed (RSA keys must be at least 2048 bits)`);
  }
}
