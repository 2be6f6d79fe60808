import { hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors';

/**
 * The AES-256 keys of SECRETS_KEY. The first entry encrypts; every entry decrypts,
 * so a key is rotated by putting the new one first and keeping the old one after
 * it until all blobs are re-encrypted. Key bytes live in a private field: logging
 * or serialising a Keyring shows only key ids.
 */
export class Keyring {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly currentKid: string;

  constructor(entries: ReadonlyArray<readonly [string, Buffer]>) {
    const first = entries[0];
    if (!first) throw new ConfigError(`SECRETS_KEY holds no key. ${FORMAT_HINT}`);
    this.currentKid = first[0];
    this.#keys = new Map(entries.map(([kid, key]) => [kid, Buffer.from(key)]));
  }

  get kids(): string[] {
    return [...this.#keys.keys()];
  }

  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /** The key for `kid`, or undefined. Internal to src/crypto. */
  key(kid: string): Buffer | undefined {
    return this.#keys.get(kid);
  }

  toJSON(): { currentKid: string; kids: string[] } {
    return { currentKid: this.currentKid, kids: this.kids };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Keyring { currentKid: ${JSON.stringify(this.currentKid)}, kids: ${JSON.stringify(this.kids)} }`;
  }
}

export const DEFAULT_KEY_ID = 'k1';
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
// 32 bytes are 43 base64 characters plus optional "=" padding, standard or url-safe alphabet.
const BASE64_KEY = /^(?:[A-Za-z0-9+/]{43}|[A-Za-z0-9_-]{43})=?$/;

const FORMAT_HINT =
  'Expected comma-separated "<key-id>:<key>" entries (first one encrypts), each key 32 bytes as base64 or 64 hex characters; ' +
  "generate one with: node -e \"console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))\"";

// Messages name the entry by position only: a misplaced key could sit where an id should be.
function invalid(position: number, problem: string): ConfigError {
  return new ConfigError(`SECRETS_KEY entry ${position}: ${problem}. ${FORMAT_HINT}`);
}

function decodeKey(text: string): Buffer | undefined {
  if (HEX_KEY.test(text)) return Buffer.from(text, 'hex');
  if (!BASE64_KEY.test(text)) return undefined;
  // Node's base64 decoder reads both alphabets.
  const key = Buffer.from(text, 'base64');
  return key.length === 32 ? key : undefined;
}

/** Parses SECRETS_KEY. Throws ConfigError naming the bad entry; never echoes key material. */
export function parseKeyring(spec: string): Keyring {
  if (typeof spec !== 'string' || spec.trim() === '') throw new ConfigError(`SECRETS_KEY is empty. ${FORMAT_HINT}`);
  const entries: Array<[string, Buffer]> = [];
  const parts = spec.split(',');
  parts.forEach((raw, index) => {
    const position = index + 1;
    const part = raw.trim();
    if (part === '') throw invalid(position, 'is empty');
    const colon = part.indexOf(':');
    const kid = colon === -1 ? DEFAULT_KEY_ID : part.slice(0, colon).trim();
    const keyText = colon === -1 ? part : part.slice(colon + 1).trim();
    if (!KEY_ID.test(kid)) throw invalid(position, 'key id must be 1-64 letters, digits, ".", "_" or "-"');
    // Two hex keys joined by ":" instead of ",": the first would become an id, written in clear into every blob.
    // Only hex: a 43-character id of letters and dashes decodes as base64 too, and such ids may be in use.
    if (HEX_KEY.test(kid)) throw invalid(position, 'key id looks like a hex key (two entries joined by ":" instead of ","?)');
    const key = decodeKey(keyText);
    if (!key) throw invalid(position, 'key is not 32 bytes of base64 or 64 hex characters');
    if (entries.some(([k]) => k === kid)) throw invalid(position, 'repeats a key id already used by an earlier entry');
    entries.push([kid, key]);
  });
  return new Keyring(entries);
}

/** A fresh `<keyId>:<base64 key>` entry for SECRETS_KEY (docs, tests, set-up scripts). */
export function generateKeySpec(keyId: string = DEFAULT_KEY_ID): string {
  if (!KEY_ID.test(keyId)) throw new ConfigError('key id must be 1-64 letters, digits, ".", "_" or "-"');
  return `${keyId}:${randomBytes(32).toString('base64')}`;
}

/** The 32-byte key derived (HKDF-SHA-256) from entry `kid` for `info`: every key SECRETS_KEY derives comes from here. */
export function derivedKey(keyring: Keyring, kid: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', keyring.key(kid) as Buffer, Buffer.alloc(0), info, 32));
}

/**
 * A keyring of keys derived from each SECRETS_KEY entry for one `purpose`, same ids, same current entry: for what
 * anyone can have sealed (a sign-in cookie per /launch), so that it never spends the nonces of the keys that
 * encrypt the stored credentials.
 */
export function derivedKeyring(keyring: Keyring, purpose: string): Keyring {
  return new Keyring(keyring.kids.map((kid) => [kid, derivedKey(keyring, kid, `appconnect aead\0${purpose}`)]));
}
