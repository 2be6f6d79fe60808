import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { HandoffClaims } from './handoff';

/** Where a verifier remembers the `jti`s it accepted, until they expire. */
export interface SeenTokenIds {
  /** False when `jti` was seen before; otherwise remembers it until `expiresAt` (epoch s: `exp` plus the clock tolerance). */
  remember(jti: string, expiresAt: number): boolean | Promise<boolean>;
}

/** In memory: right for one process; several processes need a shared store (e.g. a unique index). */
export class MemorySeenTokenIds implements SeenTokenIds {
  private readonly seen = new Map<string, number>();
  remember(jti: string, expiresAt: number): boolean {
    const now = Date.now() / 1000;
    for (const [k, exp] of this.seen) if (exp < now) this.seen.delete(k);
    if (this.seen.has(jti)) return false;
    this.seen.set(jti, expiresAt);
    return true;
  }
}

export class HandoffTokenError extends Error {
  override readonly name = 'HandoffTokenError';
}

export interface VerifyHandoffOptions {
  /** The service's APP_BASE_URL (the `iss`). */
  issuer: string;
  /** The partner app's origin (the `aud`), e.g. https://app.partner.example. */
  audience: string;
  /** The keys: `${issuer}/.well-known/jwks.json` when not given. */
  keys?: JWTVerifyGetKey;
  /** Replay guard; a process-wide in-memory one when not given. */
  seen?: SeenTokenIds;
  /** Tolerated clock difference, seconds (default 5). */
  clockToleranceSeconds?: number;
  /**
   * The `partner_state` this browser's launch was started with (e.g. from a cookie the partner's
   * launch page set): the token must carry exactly it. A token from a sign-in started in another
   * browser (posted here by a third party) is then refused. Given as `undefined` (the browser
   * has no such cookie: it never went through the partner's launch page), every token is refused.
   */
  partnerState?: string | undefined;
}

const defaultSeen = new MemorySeenTokenIds();
const remoteSets = new Map<string, JWTVerifyGetKey>();

/**
 * Why jose refused the token, in words a partner can act on: which claim failed and what was expected
 * (never the token or its values), or that the keys could not be fetched.
 */
function whyRefused(err: unknown, jwksUrl: string, o: VerifyHandoffOptions): string {
  const code = err instanceof Error ? ((err as { code?: string }).code ?? err.name) : 'invalid';
  const claim = err instanceof Error ? (err as { claim?: string }).claim : undefined;
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'aud')
    return `${code}: aud is not ${JSON.stringify(o.audience)} (give the origin of your app, e.g. https://app.example.com, not a URL with a path)`;
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'iss')
    return `${code}: iss is not ${JSON.stringify(o.issuer)} (APP_BASE_URL of the service)`;
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim) return `${code}: the ${claim} claim is missing or invalid`;
  if (code === 'ERR_JWT_EXPIRED') return `${code}: the token has expired (they live a minute: verify it as it arrives; check your clock)`;
  if (code === 'ERR_JWKS_NO_MATCHING_KEY')
    return `${code}: no key of ${jwksUrl} matches the token's kid (keys rotated? they are fetched again)`;
  // jose answers a key set it cannot fetch with ERR_JOSE_GENERIC (not 200) or ERR_JWKS_*, a network failure untyped.
  if (['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC'].includes(code) || !code.startsWith('ERR_'))
    return `${code}: cannot fetch or read the service's keys at ${jwksUrl} (is the issuer the service's APP_BASE_URL, reachable from here?)`;
  return code;
}

/**
 * Verifies a hand-off token as a partner should: signature (ES256, a published key),
 * `iss`, `aud`, `exp`, the claims present, and a `jti` never accepted before.
 * Throws HandoffTokenError (the message never quotes the token).
 */
export async function verifyHandoffToken(token: string, o: VerifyHandoffOptions): Promise<HandoffClaims> {
  const jwksUrl = `${o.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
  let keys = o.keys ?? remoteSets.get(jwksUrl);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(jwksUrl));
    remoteSets.set(jwksUrl, keys);
  }
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: o.issuer,
      audience: o.audience,
      algorithms: ['ES256'],
      requiredClaims: ['iat', 'exp', 'jti', 'sub'],
      clockTolerance: o.clockToleranceSeconds ?? 5,
    }));
  } catch (err) {
    throw new HandoffTokenError(`hand-off token refused: ${whyRefused(err, jwksUrl, o)}`);
  }
  const str = (k: string) => typeof payload[k] === 'string';
  if (!str('talkdesk_account_id') || !str('talkdesk_installation_id') || (payload.role !== 'admin' && payload.role !== 'user')) {
    throw new HandoffTokenError('hand-off token refused: the Talkdesk account, installation or role claim is missing');
  }
  const claims = payload as unknown as HandoffClaims;
  if ('partnerState' in o && (!o.partnerState || payload.partner_state !== o.partnerState)) {
    throw new HandoffTokenError('hand-off token refused: its partner_state is not the one this browser started the launch with');
  }
  // Remembered as long as the token is accepted: past `exp` by the clock tolerance too.
  if (!(await (o.seen ?? defaultSeen).remember(claims.jti, claims.exp + (o.clockToleranceSeconds ?? 5)))) {
    throw new HandoffTokenError('hand-off token refused: it was used before (jti replayed)');
  }
  return claims;
}
