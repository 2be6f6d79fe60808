import { createHmac, timingSafeEqual } from 'node:crypto';
import { derivedKey, type Keyring } from './keyring';

/**
 * HMAC-SHA-256, truncated to `bytes`, under a key derived (HKDF) from each SECRETS_KEY entry
 * for one `purpose`: the current entry signs, every entry verifies (so a key rotation does not
 * refuse what the previous key signed a moment before). The derived keys never leave src/crypto.
 */
export class KeyedMac {
  readonly #keys: Map<string, Buffer>;
  readonly #current: Buffer;

  constructor(
    keyring: Keyring,
    purpose: string,
    private readonly bytes = 16,
  ) {
    this.#keys = new Map(keyring.kids.map((kid) => [kid, derivedKey(keyring, kid, `appconnect mac\0${purpose}`)]));
    this.#current = this.#keys.get(keyring.currentKid) as Buffer;
  }

  private macWith(key: Buffer, data: string): Buffer {
    return createHmac('sha256', key).update(data).digest().subarray(0, this.bytes);
  }

  sign(data: string): Buffer {
    return this.macWith(this.#current, data);
  }

  verify(data: string, mac: Buffer): boolean {
    if (mac.length !== this.bytes) return false;
    for (const key of this.#keys.values()) if (timingSafeEqual(this.macWith(key, data), mac)) return true;
    return false;
  }
}
