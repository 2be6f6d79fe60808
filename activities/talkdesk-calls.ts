import { heartbeat } from '@temporalio/activity';
import { TalkdeskHttpError } from '../src/talkdesk/errors';
import type { StateCallInput, TalkdeskCallRef } from '../workflows/activity-types';
import type { ActivityDeps } from './deps';
import { accessToken } from './tokens';

/**
 * Calls Talkdesk with a token of the given credential set. A plain 401 drops the
 * cached token so the retry asks for a fresh one (a newly granted scope can answer
 * 401 for some minutes).
 */
export async function withToken<R>(deps: ActivityDeps, ref: TalkdeskCallRef, call: (token: string) => Promise<R>): Promise<R> {
  const { token } = await accessToken(deps, ref.installationId, ref.clientId);
  try {
    return await call(token);
  } catch (err) {
    if (err instanceof TalkdeskHttpError && err.kind === 'unauthorized') {
      await deps.store.credentials.dropTokens(ref.installationId);
    }
    throw err;
  }
}

export function talkdeskCallActivities(deps: ActivityDeps) {
  return {
    /** Approve or reject the installation (also acknowledges an update or an uninstall). */
    async setInstallationState(input: StateCallInput): Promise<{ state: string }> {
      const res = await withToken(deps, input, (token) =>
        deps.talkdesk.setInstallationState(
          input.rootUrl,
          input.appId,
          input.installationId,
          token,
          input.state === 'approve' ? { state: 'approve' } : { state: 'reject', reason: input.reason ?? 'rejected' },
        ),
      );
      deps.logger.info({ installationId: input.installationId, state: input.state }, 'installation state sent to Talkdesk');
      return { state: res.state };
    },

    /** Tells Talkdesk the rotated credentials are in use: POST .../credentials/{client_id}/state. */
    async acknowledgeCredentials(input: TalkdeskCallRef): Promise<void> {
      await withToken(deps, input, (token) =>
        deps.talkdesk.acknowledgeCredentials(input.rootUrl, input.appId, input.installationId, input.clientId, token),
      );
      heartbeat();
    },

    /** Talkdesk's view of the installation, for reconciliation. */
    async getTalkdeskInstallation(input: TalkdeskCallRef): Promise<{ state: string; reason?: string }> {
      const inst = await withToken(deps, input, (token) =>
        deps.talkdesk.getInstallation(input.rootUrl, input.appId, input.installationId, token),
      );
      return { state: inst.state.state, reason: inst.state.reason ?? undefined };
    },
  };
}
