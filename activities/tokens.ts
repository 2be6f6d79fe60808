import { ApplicationFailure } from '@temporalio/common';
import type { UsableCredentials } from '../src/store/credentials';
import { TalkdeskHttpError } from '../src/talkdesk/errors';
import { tokenRequestFor } from '../src/talkdesk/token-grants';
import { TALKDESK_FAILURE_TYPES } from '../src/talkdesk/failures';
import type { ActivityDeps } from './deps';
import { credentialsMissing } from './failures';

export const DEFAULT_SCOPES = ['apps:read', 'apps:write', 'account:read', 'users:read'];

/**
 * "Adding a scope to a client can take a few minutes to take effect; until then token requests answer 401"
 * (Talkdesk's SCOPES page, no error code given): this long after a set is imported, a token request refused with 401
 * `invalid_client` for a set never granted a token is retried instead of failing for good, whichever call asks (an
 * install's provisioning, a rotation's proof, an uninstall's or a reject's state call). Later, or for a set granted a
 * token before (revoked since, e.g. by an acknowledged uninstall), final.
 */
export const SCOPE_ACTIVATION_MS = 15 * 60_000;

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
  const cached = await deps.store.credentials.cachedTokenGrant(installationId, clientId, minValidity);
  if (cached) return { token: cached.token, expiresAt: cached.expiresAt.getTime(), scope: cached.scope, cached: true };
  const creds = await usableCredentials(deps, installationId, clientId);
  const granted = await deps.talkdesk.requestToken(tokenRequestFor(creds, deps.scopes ?? DEFAULT_SCOPES)).catch(async (err: unknown) => {
    throw (await scopesMayBeActivating(deps, err, creds)) ? scopesActivating() : err;
  });
  // Only a fresh set's grants are noted: a refusal after one is final (revoked), never taken for activation. Before the
  // token is cached: a note whose write failed leaves no cached token, so the retry is granted, and noted, again.
  if (fresh(creds) && creds.importedAt) await deps.store.tokenGrants.note(installationId, clientId, creds.importedAt);
  await deps.store.credentials.cacheToken(installationId, clientId, granted.accessToken, granted.scope, new Date(granted.expiresAt));
  return { token: granted.accessToken, expiresAt: granted.expiresAt, scope: granted.scope, cached: false };
}

/**
 * Within the window from the earlier of its import and its event's `created_at` (Talkdesk made the client then): a set
 * imported late (a rotation queued behind others, a late one acknowledged) is not taken for one whose scopes activate.
 */
function fresh(creds: UsableCredentials): boolean {
  if (creds.importedAt === undefined) return false;
  const from = Math.min(creds.importedAt.getTime(), creds.issuedAt?.getTime() ?? Infinity);
  return Date.now() - from < SCOPE_ACTIVATION_MS;
}

/** A fresh set not granted a token since its import, refused 401 `invalid_client`: its scopes may still be activating. */
async function scopesMayBeActivating(deps: ActivityDeps, err: unknown, creds: UsableCredentials): Promise<boolean> {
  if (!(fresh(creds) && err instanceof TalkdeskHttpError && err.kind === 'unauthorized' && err.isInvalidClient)) return false;
  return !(creds.importedAt && (await deps.store.tokenGrants.since(creds.installationId, creds.clientId, creds.importedAt)));
}

const scopesActivating = () =>
  ApplicationFailure.create({
    type: TALKDESK_FAILURE_TYPES.unauthorized,
    message:
      `Talkdesk refused a token for credentials imported less than ${SCOPE_ACTIVATION_MS / 60_000} minutes ago (401 invalid_client): ` +
      "a client's new scopes can answer 401 for a few minutes; retried, and final after that",
    nonRetryable: false,
  });

export async function usableCredentials(deps: ActivityDeps, installationId: string, clientId: string): Promise<UsableCredentials> {
  const creds = await deps.store.credentials.usable(installationId, clientId);
  if (!creds) throw credentialsMissing(installationId, clientId);
  return creds;
}
