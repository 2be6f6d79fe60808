import type { IncomingMessage } from 'node:http';
import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { z } from 'zod';
import { errorResponse } from './errors';
import { mediaType, type SimResponse } from './http-util';
import type { ClientRecord, SimState } from './state';
import { SCOPES, type CallRecord, type Scope } from './types';

export const GRANT_TYPE = 'client_credentials';
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Talkdesk asks for exp = iat + 300 s. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;

export interface TokenEndpointConfig {
  state: SimState;
  /** The account's token endpoint URL (events.ts), the only `aud` its clients' assertions may carry. */
  tokenUrlOf: (accountId: string) => string;
  tokenTtlSeconds: number;
  clockSkewSeconds: number;
  /** How long after a client is created its token requests answer 401 `invalid_client` (tokenScopeActivationSeconds). */
  tokenScopeActivationMs?: number;
  /** The authorization_code grant (sso.ts), given the form fields once parsed. */
  codeGrant?: (req: IncomingMessage, fields: Record<string, string>, call: CallRecord, accountId: string) => Promise<SimResponse>;
}

const formSchema = z.object({
  grant_type: z.string({ error: 'grant_type is required' }),
  client_assertion_type: z.string({ error: 'client_assertion_type is required' }),
  client_assertion: z.string({ error: 'client_assertion is required' }).min(1, 'client_assertion is empty'),
  scope: z.string().optional(),
  client_id: z.string().optional(),
});

const claimsSchema = z.object({
  iss: z.string().min(1),
  sub: z.string().min(1),
  aud: z.string({ error: 'aud must be a single string' }),
  // "jti = a fresh uuid" (talkdesk-api.md): a counter or a fixed string would make replays easy to forge.
  jti: z.string({ error: 'jti is required' }).uuid('jti must be a UUID'),
  iat: z.number({ error: 'iat is required' }),
  exp: z.number({ error: 'exp is required' }),
  nbf: z.number().optional(),
});

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

export const oauthError = (status: number, error: string, description: string): SimResponse =>
  errorResponse('token', status, description, {
    oauthError: error,
    headers: status === 401 ? { ...NO_STORE, 'www-authenticate': 'Bearer error="invalid_client"' } : NO_STORE,
  });

export type Verified = { ok: true; client: ClientRecord } | { ok: false; description: string };

/** Whether the client is one of the account whose endpoint was called (Talkdesk's endpoints are per account). */
export function ofAccount(state: SimState, client: ClientRecord, accountId: string | undefined): boolean {
  return accountId !== undefined && state.installations.get(client.installationId)?.accountId === accountId;
}

/** `accountId`: the account whose token endpoint was called (its path). */
export async function verifyAssertion(
  cfg: TokenEndpointConfig,
  assertion: string,
  call: CallRecord,
  accountId: string | undefined,
): Promise<Verified> {
  const fail = (description: string): Verified => ({ ok: false, description });
  let header: ProtectedHeaderParameters;
  let payload: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    payload = decodeJwt(assertion);
  } catch {
    return fail('client_assertion is not a well-formed signed JWT');
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success)
    return fail(`client_assertion claims: ${claims.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { iss, sub, aud, jti, iat, exp, nbf } = claims.data;
  if (iss !== sub) return fail('iss and sub must both be the client_id');

  const client = cfg.state.clients.get(iss);
  if (!client) return fail('unknown client');
  call.clientId = client.clientId;
  call.installationId = client.installationId;
  if (!cfg.state.clientValid(client))
    return fail(client.revokedAt ? 'client credentials were revoked' : 'client credentials expired after rotation');

  if (header.alg !== client.keys.key_algorithm) return fail(`alg must be ${client.keys.key_algorithm}`);
  if (header.kid !== client.keys.key_id) return fail('kid does not match the client key_id');
  try {
    await compactVerify(assertion, client.publicKey, { algorithms: [client.keys.key_algorithm] });
  } catch {
    return fail('client_assertion signature is invalid');
  }

  if (!ofAccount(cfg.state, client, accountId))
    return fail("the client is not of this account: use the token URL of its install event's _links.tokens");
  if (aud !== cfg.tokenUrlOf(accountId!)) return fail('aud must be the token endpoint URL');
  const now = Date.now() / 1000;
  const skew = cfg.clockSkewSeconds;
  if (exp <= now - skew) return fail('client_assertion has expired');
  if (iat > now + skew) return fail('iat is in the future');
  if (exp <= iat) return fail('exp must be after iat');
  // Both from the client's own clock: no skew applies to their difference.
  if (exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) return fail(`exp may be at most ${MAX_ASSERTION_LIFETIME_SECONDS} s after iat`);
  if (nbf !== undefined && nbf > now + skew) return fail('nbf is in the future');
  if (!cfg.state.consumeJti(client.clientId, jti, exp)) return fail('jti was already used');
  return { ok: true, client };
}

/** Requested scopes; undefined when the request is not a subset of what the installation granted. */
function grantedScopes(requested: string | undefined, granted: Scope[]): Scope[] | undefined {
  if (requested === undefined) return [...granted];
  const parts = requested.split(' ');
  if (parts.some((p) => p.length === 0)) return undefined;
  const out: Scope[] = [];
  for (const p of parts) {
    const scope = SCOPES.find((s) => s === p);
    if (!scope || !granted.includes(scope)) return undefined;
    if (!out.includes(scope)) out.push(scope);
  }
  return out;
}

/** POST /accounts/<id>/oauth/token: client_credentials with a private_key_jwt client assertion only. */
export async function handleToken(
  cfg: TokenEndpointConfig,
  req: IncomingMessage,
  raw: string,
  call: CallRecord,
  accountId: string | undefined,
): Promise<SimResponse> {
  if (mediaType(req.headers['content-type']) !== 'application/x-www-form-urlencoded') {
    return oauthError(400, 'invalid_request', 'content-type must be application/x-www-form-urlencoded');
  }
  const params = new URLSearchParams(raw);
  const fields: Record<string, string> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    if (values.length > 1) return oauthError(400, 'invalid_request', `parameter ${key} is repeated`);
    fields[key] = values[0] ?? '';
  }
  if (typeof fields.client_assertion === 'string') cfg.state.addSecret(fields.client_assertion);
  // The authorization_code grant (sign-in) also accepts HTTP Basic, so it decides on the header itself.
  if (fields.grant_type === 'authorization_code' && cfg.codeGrant) return cfg.codeGrant(req, fields, call, accountId ?? '');
  // RFC 6749 §2.3: exactly one client authentication method per request.
  if (req.headers.authorization !== undefined) {
    return oauthError(400, 'invalid_request', 'use the client assertion only, not an Authorization header');
  }
  if ('client_secret' in fields) {
    return oauthError(400, 'invalid_request', 'use the client assertion only, not a client_secret');
  }
  const form = formSchema.safeParse(fields);
  if (!form.success) return oauthError(400, 'invalid_request', form.error.issues.map((i) => i.message).join('; '));
  if (form.data.grant_type !== GRANT_TYPE) {
    return oauthError(400, 'unsupported_grant_type', `grant_type must be ${GRANT_TYPE}`);
  }
  if (form.data.client_assertion_type !== ASSERTION_TYPE) {
    return oauthError(400, 'invalid_request', `client_assertion_type must be ${ASSERTION_TYPE}`);
  }

  const verified = await verifyAssertion(cfg, form.data.client_assertion, call, accountId);
  if (!verified.ok) return oauthError(401, 'invalid_client', verified.description);
  const client = verified.client;
  if (form.data.client_id !== undefined && form.data.client_id !== client.clientId) {
    return oauthError(401, 'invalid_client', 'client_id does not match the assertion');
  }

  const installation = cfg.state.installations.get(client.installationId);
  if (!installation) return oauthError(401, 'invalid_client', 'client has no installation');
  // "Adding a scope to a client can take a few minutes to take effect; until then token requests answer 401" (SCOPES).
  if (Date.now() < client.createdAt.getTime() + (cfg.tokenScopeActivationMs ?? 0)) {
    return oauthError(401, 'invalid_client', "the client's scopes are not active yet; retry in a few minutes");
  }
  const scopes = grantedScopes(form.data.scope, installation.scopes);
  if (!scopes) {
    return oauthError(400, 'invalid_scope', `scope must be a space-separated subset of: ${installation.scopes.join(' ')}`);
  }
  const token = cfg.state.issueToken(client, installation.accountId, scopes, cfg.tokenTtlSeconds);
  return {
    status: 200,
    headers: NO_STORE,
    body: {
      access_token: token.token,
      token_type: 'Bearer',
      expires_in: cfg.tokenTtlSeconds,
      scope: scopes.join(' '),
    },
  };
}
