import type { UsableCredentials } from '../src/store/credentials';
import type { ActivityDeps } from './deps';
import { credentialsMissing } from './failures';

export const DEFAULT_SCOPES = ['apps:read', 'apps:write', 'account:read', 'users:read'];

/**
 * An access token for one credential set: from the encrypted cache while it has
 * time left, else a fresh client-credentials grant with a signed JWT assertion.
 * The token never leaves the activity process except encrypted into the cache.
 */
export async function accessToken(
  deps: ActivityDeps,
  installationId: string,
  clientId: string,
): Promise<{ token: string; expiresAt: number; scope: string; cached: boolean }> {
  const minValidity = deps.tokenMinValidityMs ?? 60_000;
  const cached = await deps.store.credentials.cachedToken(installationId, clientId, minValidity);
  if (cached) return { token: cached, expiresAt: Date.now() + minValidity, scope: '', cached: true };
  const creds = await usableCredentials(deps, installationId, clientId);
  const granted = await deps.talkdesk.requestToken({
    tokenUrl: creds.tokenUrl,
    clientId: creds.clientId,
    keyId: creds.keyId,
    algorithm: creds.keyAlgorithm,
    privateKey: creds.secret.privateKey,
    scopes: deps.scopes ?? DEFAULT_SCOPES,
  });
  await deps.store.credentials.cacheToken(installationId, clientId, granted.accessToken, granted.scope, new Date(granted.expiresAt));
  return { token: granted.accessToken, expiresAt: granted.expiresAt, scope: granted.scope, cached: false };
}

export async function usableCredentials(deps: ActivityDeps, installationId: string, clientId: string): Promise<UsableCredentials> {
  const creds = await deps.store.credentials.usable(installationId, clientId);
  if (!creds) throw credentialsMissing(installationId, clientId);
  return creds;
}
