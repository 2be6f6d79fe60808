import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

/**
 * Callback authentication over the raw request bytes, before any parsing: a
 * re-serialised body would not match what Talkdesk signed. Every check returns
 * false on anything malformed; none throws on attacker-controlled input.
 */

export const HUB_ALGORITHMS = ['sha1', 'sha256', 'sha512'] as const;
export type HubAlgorithm = (typeof HUB_ALGORITHMS)[number];
/** Accepted unless configured otherwise (CALLBACK_HMAC_ALGORITHMS): sha1 is opt-in. */
export const DEFAULT_HUB_ALGORITHMS: readonly HubAlgorithm[] = ['sha256', 'sha512'];

const HEX_LENGTH: Record<HubAlgorithm, number> = { sha1: 40, sha256: 64, sha512: 128 };
// The prefix is optional: Talkdesk's own test receiver (fictional_partner) compares bare hex (upper case),
// the algorithm configured apart; without a prefix it is the accepted one whose HMAC has that length.
const HUB_HEADER = /^(?:(sha1|sha256|sha512)=)?([0-9a-f]+)$/i;

type HeaderValue = string | readonly string[] | undefined;

/** `x-hub-signature` value for a body: `<alg>=<hex HMAC>` (used by the simulator and tests). */
export function signHubSignature(raw: Buffer, secret: string, alg: HubAlgorithm = 'sha256'): string {
  return `${alg}=${createHmac(alg, secret).update(raw).digest('hex')}`;
}

export interface HubVerifyOptions {
  /** Algorithms accepted in the header's prefix; DEFAULT_HUB_ALGORITHMS (sha256, sha512) by default. */
  algorithms?: readonly HubAlgorithm[];
}

/**
 * True when `header` is `<alg>=<hex>` (or the bare hex) and the hex is the HMAC of `raw` under one of
 * `secrets` (several are valid during a secret rotation). Compared in constant time.
 */
export function verifyHubSignature(raw: Buffer, header: HeaderValue, secrets: readonly string[], options: HubVerifyOptions = {}): boolean {
  // A repeated header arrives as an array (or joined with ", "): ambiguous, so refused.
  if (typeof header !== 'string' || !Buffer.isBuffer(raw)) return false;
  const match = HUB_HEADER.exec(header.trim());
  if (!match) return false;
  const hex = match[2] ?? '';
  const allowed = options.algorithms ?? DEFAULT_HUB_ALGORITHMS;
  const alg = match[1] ? (match[1].toLowerCase() as HubAlgorithm) : allowed.find((a) => HEX_LENGTH[a] === hex.length);
  if (!alg || !allowed.includes(alg) || hex.length !== HEX_LENGTH[alg]) return false;
  const given = Buffer.from(hex, 'hex');
  let ok = false;
  for (const secret of secrets) {
    // An empty secret would let anyone sign; treat it as not configured.
    if (typeof secret !== 'string' || secret.length === 0) continue;
    const expected = createHmac(alg, secret).update(raw).digest();
    // No early exit: the time taken does not depend on which secret matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

/** Public keys for `X-Hub-Ecdsa-Signature`, by the id sent in `X-Hub-Ecdsa-Signature-Id`. */
export type EcdsaPublicKeys = ReadonlyMap<string, KeyObject | string>;

// P-521 DER signatures are at most 139 bytes; allow some slack, refuse anything huge.
const ECDSA_HEX = /^[0-9a-f]{2,512}$/i;

function toPublicKey(key: KeyObject | string): KeyObject | undefined {
  try {
    let object: KeyObject;
    if (typeof key !== 'string') object = key;
    else if (key.includes('-----BEGIN')) object = createPublicKey(key);
    // Talkdesk hands keys over as base64 without PEM armour; accept SPKI DER in that form.
    else object = createPublicKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'spki' });
    if (object.type === 'private') object = createPublicKey(object);
    return object.asymmetricKeyType === 'ec' ? object : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `signatureHex` (optionally prefixed `sha512=`) is an ECDSA/SHA-512
 * signature of `raw`, DER or IEEE-P1363 encoded, by the key registered as `keyId`.
 */
export function verifyEcdsaSignature(raw: Buffer, signatureHex: HeaderValue, keyId: HeaderValue, publicKeys: EcdsaPublicKeys): boolean {
  if (typeof signatureHex !== 'string' || typeof keyId !== 'string' || !Buffer.isBuffer(raw)) return false;
  const hex = signatureHex.trim().replace(/^sha512=/i, '');
  if (!ECDSA_HEX.test(hex) || hex.length % 2 !== 0) return false;
  const stored = publicKeys.get(keyId.trim());
  if (stored === undefined) return false;
  const key = toPublicKey(stored);
  if (!key) return false;
  const signature = Buffer.from(hex, 'hex');
  for (const dsaEncoding of ['der', 'ieee-p1363'] as const) {
    try {
      if (verify('sha512', raw, { key, dsaEncoding }, signature)) return true;
    } catch {
      // Wrong encoding for this signature: try the other one.
    }
  }
  return false;
}
