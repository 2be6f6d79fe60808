import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKey } from './signing-keys';

/** Lifetime of a hand-off token: it is used once, right away, by the browser's form post. */
export const HANDOFF_TTL_SECONDS = 60;

export interface HandoffIdentity {
  talkdeskUserId: string;
  accountId: string;
  installationId: string;
  name?: string;
  email?: string;
  role: 'admin' | 'user';
  partnerAccountId?: string;
  /** The `partner_state` the partner's own launch page passed to /launch (binds the hand-off to its browser). */
  partnerState?: string;
  /** When the sign-in began (/launch issued its state), epoch seconds: a logout since ends it at the partner too. */
  authTime?: number;
}

/** The claims a partner reads (docs/launch.md). */
export interface HandoffClaims {
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  sub: string;
  talkdesk_account_id: string;
  talkdesk_installation_id: string;
  name?: string;
  email?: string;
  role: 'admin' | 'user';
  partner_account_id?: string;
  partner_state?: string;
  auth_time?: number;
}

/** Signs the identity token for APP_HOME_URL: ES256 with the first signing key, 60 s. */
export async function signHandoffToken(
  key: SigningKey,
  who: HandoffIdentity,
  o: { issuer: string; appHomeUrl: string; now?: number },
): Promise<string> {
  const iat = Math.floor((o.now ?? Date.now()) / 1000);
  const claims: Record<string, unknown> = {
    talkdesk_account_id: who.accountId,
    talkdesk_installation_id: who.installationId,
    role: who.role,
  };
  if (who.name !== undefined) claims.name = who.name;
  if (who.email !== undefined) claims.email = who.email;
  if (who.partnerAccountId !== undefined) claims.partner_account_id = who.partnerAccountId;
  if (who.partnerState !== undefined) claims.partner_state = who.partnerState;
  if (who.authTime !== undefined) claims.auth_time = who.authTime;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
    .setIssuer(o.issuer)
    .setAudience(new URL(o.appHomeUrl).origin)
    .setSubject(who.talkdeskUserId)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + HANDOFF_TTL_SECONDS)
    .sign(key.privateKey);
}
