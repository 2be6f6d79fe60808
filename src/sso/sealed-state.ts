import { randomBytes } from 'node:crypto';
import { KeyedMac } from '../crypto/keyed-mac';
import { ID_PATTERN } from '../events/fields';
import { derivedKeyring } from '../crypto/keyring';
import { decryptJson, encryptJson, type EncryptedBlob, type Keyring, type SecretContext } from '../crypto/secrets';
import { signInStateCookieContext } from '../store/secret-contexts';
import { hashId } from '../store/sessions';
import { STATE_TTL_MS, type SsoStateStore, type StateCheck, type StateLinks } from './state-store';

/**
 * Sign-in states kept by the browser instead of the store (docs/launch.md, "The state"):
 * `/launch` writes nothing; the callback spends the state with one insert.
 *
 * - `state` (sent to Talkdesk) = 32 random characters, a 22-character MAC, the installation id.
 *   The MAC (SECRETS_KEY-derived) lets a refused callback name its installation without a read.
 * - The `appconnect_sso` cookie (HttpOnly, path /sso/callback) = the rest, sealed with
 *   AES-256-GCM under a key derived from SECRETS_KEY and bound (AAD) to that exact state: installation, nonce,
 *   user hint, links, expiry. Only the browser that started the sign-in holds it, so the
 *   binding to the browser is checked, as before, before the state is spent.
 * - Spending inserts the marker `<sha256(state)>:spent` in `sso_states`: the unique `_id`
 *   makes exactly one of racing callbacks win (SsoStateStore.spend), swept after the expiry.
 *
 * States of the earlier, stored form (43 random characters) are still accepted through the store.
 */
const RANDOM_CHARS = 32; // 24 bytes
const MAC_CHARS = 22; // 16 bytes
/** The cookie's longest value: well under a browser's 4 KB per cookie. Longer links are left out (the callback reads them). */
export const SEALED_COOKIE_MAX = 3000;
const COOKIE = /^[A-Za-z0-9_-]+$/;

interface Sealed {
  n: string;
  u?: string;
  /** The partner's `partner_state` from /launch, echoed in the hand-off token. */
  p?: string;
  l?: StateLinks;
  /** The client id the authorization was asked for (absent in cookies of earlier versions). */
  c?: string;
  /** Expiry, epoch ms. */
  e: number;
  /** Issued, epoch ms (absent in cookies of earlier versions: the expiry less the state's lifetime). */
  i?: number;
}

const cookieContext = (installationId: string, state: string): SecretContext => signInStateCookieContext(installationId, hashId(state));

export class SealedStates {
  private readonly mac: KeyedMac;
  /** Keys of their own (derived): anyone can have a cookie sealed by opening /launch. */
  private readonly keyring: Keyring;

  constructor(
    keyring: Keyring,
    private readonly store: SsoStateStore,
  ) {
    this.mac = new KeyedMac(keyring, 'sso state');
    this.keyring = derivedKeyring(keyring, 'sso state cookie');
  }

  /** A new state and the cookie value that goes with it; nothing is written. */
  issue(
    s: { installationId: string; nonce: string; userHint?: string; links?: StateLinks; partnerState?: string; clientId?: string },
    now = Date.now(),
  ): { state: string; cookie: string } {
    const random = randomBytes(24).toString('base64url');
    const state = `${random}${this.mac.sign(`${random}\0${s.installationId}`).toString('base64url')}${s.installationId}`;
    const base: Sealed = {
      n: s.nonce,
      e: now + STATE_TTL_MS,
      i: now,
      ...(s.userHint ? { u: s.userHint } : {}),
      ...(s.partnerState ? { p: s.partnerState } : {}),
      ...(s.clientId ? { c: s.clientId } : {}),
    };
    const seal = (v: Sealed) =>
      Buffer.from(JSON.stringify(encryptJson(this.keyring, v, cookieContext(s.installationId, state)))).toString('base64url');
    const withLinks = s.links ? seal({ ...base, l: s.links }) : undefined;
    return { state, cookie: withLinks && withLinks.length <= SEALED_COOKIE_MAX ? withLinks : seal(base) };
  }

  /** The installation a state of this form names, when its MAC is ours; else undefined. */
  installationOf(state: string): string | undefined {
    const random = state.slice(0, RANDOM_CHARS);
    const mac = state.slice(RANDOM_CHARS, RANDOM_CHARS + MAC_CHARS);
    const installationId = state.slice(RANDOM_CHARS + MAC_CHARS);
    if (!ID_PATTERN.test(installationId) || mac.length !== MAC_CHARS) return undefined;
    return this.mac.verify(`${random}\0${installationId}`, Buffer.from(mac, 'base64url')) ? installationId : undefined;
  }

  /** Accepts a state once, from the browser it was issued to, unexpired (see the class comment). */
  async consume(state: string, cookie: string | undefined, now = Date.now()): Promise<StateCheck> {
    const installationId = this.installationOf(state);
    // Not of this form: a stored state of an earlier version (its cookie is the browser's random id).
    if (!installationId) return this.store.consume(state, cookie, new Date(now));
    const base = { installationId };
    const sealed =
      cookie && cookie.length <= SEALED_COOKIE_MAX && COOKIE.test(cookie) ? this.open(cookie, installationId, state) : undefined;
    if (!sealed) return { ok: false, why: 'other_browser', ...base };
    if (sealed.e <= now) return { ok: false, why: 'expired', ...base };
    if (!(await this.store.spend(state, installationId, new Date(sealed.e), new Date(now)))) return { ok: false, why: 'replayed', ...base };
    return {
      ok: true,
      installationId,
      nonce: sealed.n,
      issuedAt: new Date(sealed.i ?? sealed.e - STATE_TTL_MS),
      ...(sealed.u ? { userHint: sealed.u } : {}),
      ...(sealed.l ? { links: sealed.l } : {}),
      ...(typeof sealed.p === 'string' ? { partnerState: sealed.p } : {}),
      ...(typeof sealed.c === 'string' ? { clientId: sealed.c } : {}),
    };
  }

  private open(cookie: string, installationId: string, state: string): Sealed | undefined {
    try {
      const blob = JSON.parse(Buffer.from(cookie, 'base64url').toString('utf8')) as EncryptedBlob;
      // Only the version bound to its context: a version 1 blob's AAD names the installation alone.
      if (blob.v !== 2) return undefined;
      const sealed = decryptJson<Sealed>(this.keyring, blob, cookieContext(installationId, state));
      return typeof sealed?.n === 'string' && typeof sealed.e === 'number' ? sealed : undefined;
    } catch {
      return undefined;
    }
  }
}
