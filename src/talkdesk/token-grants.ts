import type { z } from 'zod';
import { createClientAssertion, type TalkdeskKeyAlgorithm } from './assertion';
import type { TalkdeskHttp } from './http';
import { tokenResponseSchema, type TalkdeskToken } from './schemas';

export interface TokenRequest {
  /** The event's `_links.tokens.href`; also the assertion's `aud`. */
  tokenUrl: string;
  clientId: string;
  keyId: string;
  algorithm: TalkdeskKeyAlgorithm;
  /** As Talkdesk sent it: base64 PKCS#8 (DER or PEM), or PEM. */
  privateKey: string;
  /** Without it the token gets every scope the client was granted. */
  scopes?: string[];
}

/** A stored credential set, as far as a token request needs it (the store's `UsableCredentials`). */
export interface TokenRequestingSet {
  tokenUrl: string;
  clientId: string;
  keyId: string;
  keyAlgorithm: TalkdeskKeyAlgorithm;
  secret: { privateKey: string };
}

/** The client-credentials request of a stored set for these scopes (the workflow's tokens, the licence check's). */
export function tokenRequestFor(set: TokenRequestingSet, scopes: string[]): TokenRequest {
  return {
    tokenUrl: set.tokenUrl,
    clientId: set.clientId,
    keyId: set.keyId,
    algorithm: set.keyAlgorithm,
    privateKey: set.secret.privateKey,
    scopes,
  };
}

export interface CodeExchangeRequest {
  /** The installation's `_links.tokens.href`. */
  tokenUrl: string;
  clientId: string;
  code: string;
  /** Exactly the redirect_uri of the authorization request. */
  redirectUri: string;
  auth:
    | { method: 'private_key_jwt'; keyId: string; algorithm: TalkdeskKeyAlgorithm; privateKey: string }
    | { method: 'client_secret_basic'; clientSecret: string };
}

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const FORM = 'application/x-www-form-urlencoded';

/** OAuth client credentials with a signed JWT assertion: POST form to the event's tokens URL. */
export async function requestToken(http: TalkdeskHttp, req: TokenRequest): Promise<TalkdeskToken> {
  const target = http.allowed(req.tokenUrl);
  const startedAt = http.now();
  const assertion = await createClientAssertion({
    clientId: req.clientId,
    keyId: req.keyId,
    algorithm: req.algorithm,
    privateKey: req.privateKey,
    tokenUrl: req.tokenUrl,
    now: startedAt,
  });
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
  });
  if (req.scopes && req.scopes.length > 0) form.set('scope', req.scopes.join(' '));

  const body = await http.json(
    { method: 'POST', target, body: { contentType: FORM, text: form.toString() }, secrets: [assertion] },
    tokenResponseSchema,
  );
  return toToken(body, startedAt);
}

/**
 * Sign-in: the authorization_code grant at the installation's tokens link, the client
 * authenticated by a signed JWT assertion (as for client credentials) or HTTP Basic.
 */
export async function exchangeAuthorizationCode(http: TalkdeskHttp, req: CodeExchangeRequest): Promise<UserToken> {
  const target = http.allowed(req.tokenUrl);
  const startedAt = http.now();
  const form = new URLSearchParams({ grant_type: 'authorization_code', code: req.code, redirect_uri: req.redirectUri });
  const secrets = [req.code];
  let basic: string | undefined;
  if (req.auth.method === 'private_key_jwt') {
    const assertion = await createClientAssertion({ ...req.auth, clientId: req.clientId, tokenUrl: req.tokenUrl, now: startedAt });
    form.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
    form.set('client_assertion', assertion);
    secrets.push(assertion);
  } else {
    // RFC 6749 2.3.1: both parts form-encoded before base64.
    basic = Buffer.from(`${encodeURIComponent(req.clientId)}:${encodeURIComponent(req.auth.clientSecret)}`).toString('base64');
    secrets.push(req.auth.clientSecret, basic);
  }
  const body = await http.json(
    { method: 'POST', target, basic, body: { contentType: FORM, text: form.toString() }, secrets },
    tokenResponseSchema,
  );
  // The ID token goes to the caller only: never kept, never logged.
  return { ...toToken(body, startedAt), ...(body.id_token ? { idToken: body.id_token } : {}) };
}

/** A user's token from the code exchange, with its ID token when Talkdesk sent one. */
export type UserToken = TalkdeskToken & { idToken?: string };

/** The token endpoint's answer as the lifecycle keeps it; expiry counted from when we asked. */
function toToken(body: z.output<typeof tokenResponseSchema>, startedAt: number): TalkdeskToken {
  const scope = body.scope ?? '';
  return {
    accessToken: body.access_token,
    tokenType: 'Bearer',
    expiresIn: body.expires_in,
    scope,
    scopes: scope.split(' ').filter((s) => s.length > 0),
    expiresAt: startedAt + body.expires_in * 1000,
  };
}
