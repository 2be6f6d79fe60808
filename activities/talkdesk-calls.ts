import { heartbeat } from '@temporalio/activity';
import { alreadyConcluded } from '../src/talkdesk/concluded';
import { TalkdeskHttpError } from '../src/talkdesk/errors';
import { toFailure } from './failures';
import type { TalkdeskInstallationState } from '../src/talkdesk/schemas';
import type { StateCallInput, StateCallResult, TalkdeskCallRef } from '../workflows/activity-types';
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
  /**
   * Talkdesk's state of the installation. A failure that a retry may fix (500,
   * 429, timeout) fails the step, which retries later: sending blind could repeat
   * the call. One that cannot (no apps:read scope, 404) gives undefined, and the
   * call is sent as it would be without the check.
   */
  const currentState = async (ref: TalkdeskCallRef): Promise<TalkdeskInstallationState | undefined> => {
    try {
      const inst = await withToken(deps, ref, (token) => deps.talkdesk.getInstallation(ref.rootUrl, ref.appId, ref.installationId, token));
      return inst.state;
    } catch (err) {
      const failure = toFailure(err);
      if (!failure.nonRetryable) throw failure;
      deps.logger.warn(
        { installationId: ref.installationId, reason: failure.message },
        'cannot read the installation state: sending the call unchecked',
      );
      return undefined;
    }
  };

  return {
    /**
     * Approve or reject the installation (also acknowledges an update or an
     * uninstall). On a retry the installation's state is read first: when the
     * earlier attempt took effect at Talkdesk but its answer was lost, the call
     * is not sent twice.
     */
    async setInstallationState(input: StateCallInput): Promise<StateCallResult> {
      if (input.checkFirst) {
        const current = await currentState(input);
        if (current && alreadyConcluded(input, current)) {
          deps.logger.info(
            { installationId: input.installationId, state: input.state, talkdeskState: current.state },
            'installation state already concluded at Talkdesk: not sent again',
          );
          return { state: current.state, alreadyConcluded: true };
        }
      }
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
  };
}
