import { Context, heartbeat } from '@temporalio/activity';
import { alreadyConcluded, decideStateCall, showsOperationOpen } from '../src/talkdesk/concluded';
import { TalkdeskHttpError, TalkdeskProtocolError } from '../src/talkdesk/errors';
import { toFailure } from './failures';
import type { TalkdeskInstallationState } from '../src/talkdesk/schemas';
import type { DeadlineReadInput, StateCallInput, StateCallResult, TalkdeskCallRef } from '../workflows/activity-types';
import type { ActivityDeps } from './deps';
import { accessToken } from './tokens';

/**
 * acknowledgeCredentials' input. `resent`: an earlier attempt may have reached Talkdesk, so
 * a 409 means it landed. The workflow sets it on a retry of its step and on a rotation
 * re-entered after continue-as-new: it runs each attempt as a new activity (maximumAttempts 1),
 * whose own attempt number is always 1.
 */
export interface AcknowledgeInput extends TalkdeskCallRef {
  resent?: boolean;
}

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

/** Talkdesk calls made with a token of one credential set (callsWithOneToken). */
export type TalkdeskCalls = <R>(call: (token: string) => Promise<R>) => Promise<R>;

/**
 * `withToken` for the Talkdesk calls of one activity (a provision's account, installation and pages; an update's users
 * one by one): the token is read from the store, or granted, once and reused for half the token's minimum validity
 * (30 s by default) instead of one store read per call, so a reused token keeps at least half that validity. A 401
 * forgets it and drops the cache, as withToken does, so the next call asks again.
 */
export function callsWithOneToken(deps: ActivityDeps, ref: TalkdeskCallRef): TalkdeskCalls {
  const reuseMs = (deps.tokenMinValidityMs ?? 60_000) / 2;
  let held: { token: Promise<string>; until: number } | undefined;
  return async <R>(call: (token: string) => Promise<R>): Promise<R> => {
    if (!held || Date.now() >= held.until) {
      const token = accessToken(deps, ref.installationId, ref.clientId).then((t) => t.token);
      held = { token, until: Date.now() + reuseMs };
      token.catch(() => (held = held?.token === token ? undefined : held));
    }
    const mine = held;
    const token = await mine.token; // a refused token request is not a refused call: no drop, as in withToken
    try {
      return await call(token);
    } catch (err) {
      if (err instanceof TalkdeskHttpError && err.kind === 'unauthorized') {
        if (held === mine) held = undefined;
        await deps.store.credentials.dropTokens(ref.installationId);
      }
      throw err;
    }
  };
}

/**
 * Heartbeats while `call` runs, so that a cancellation reaches the activity and a slow
 * answer does not look like a dead worker. The call itself is not aborted: the
 * workflow waits for it to end (WAIT_CANCELLATION_COMPLETED) and learns whether it landed.
 */
async function heartbeating<R>(call: () => Promise<R>): Promise<R> {
  heartbeat();
  const beat = setInterval(() => heartbeat(), 1_000);
  try {
    return await call();
  } finally {
    clearInterval(beat);
  }
}

export function talkdeskCallActivities(deps: ActivityDeps) {
  /**
   * Talkdesk's state of the installation. A failure that a retry may fix (500,
   * 429, timeout) fails the step, which retries later: sending blind could repeat
   * the call. One that cannot (no apps:read scope, 404) gives undefined: the caller
   * decides (a state call is sent as it would be without the check).
   */
  const currentState = async (ref: StateCallInput): Promise<TalkdeskInstallationState | undefined> => {
    try {
      const inst = await withToken(deps, ref, (token) => deps.talkdesk.getInstallation(ref.rootUrl, ref.appId, ref.installationId, token));
      return inst.state;
    } catch (err) {
      if (revokedByEarlierAcknowledgement(ref, err)) {
        deps.logger.info(
          { installationId: ref.installationId },
          'credentials refused after an earlier uninstall acknowledgement attempt: Talkdesk revoked them, the uninstall concluded',
        );
        return { state: 'revoked' };
      }
      const failure = toFailure(err);
      if (!failure.nonRetryable) throw failure;
      deps.logger.warn({ installationId: ref.installationId, reason: failure.message }, 'cannot read the installation state');
      return undefined;
    }
  };

  /**
   * What the table of docs/lifecycle.md ("State calls") says for what Talkdesk
   * shows: undefined to send, else the result without sending.
   */
  const notToSend = async (input: StateCallInput): Promise<StateCallResult | undefined> => {
    const current = await currentState(input);
    if (!current) {
      // Unread, a late update's call is not sent either: whatever Talkdesk has open is a newer operation. Its approval
      // counts as concluded (by the newer update's, as when Talkdesk shows completed or pending); its rejection as not sent.
      if (input.late) return input.state === 'approve' ? { state: 'unknown', alreadyConcluded: true } : { state: 'unknown', notSent: true };
      deps.logger.warn(
        { installationId: input.installationId, state: input.state },
        'installation state unread: sending the call unchecked',
      );
      return undefined;
    }
    const decision = decideStateCall(input, current);
    if (decision === 'send') return undefined;
    deps.logger.info(
      { installationId: input.installationId, state: input.state, concludes: input.concludes, talkdeskState: current.state },
      decision === 'concluded'
        ? 'installation state already concluded at Talkdesk: not sent again'
        : 'operation not open at Talkdesk: not sent',
    );
    return decision === 'concluded'
      ? { state: current.state, alreadyConcluded: true }
      : { state: current.state, notSent: true, ...(current.reason ? { reason: current.reason } : {}) };
  };

  /**
   * An install this service approved is recorded durably: reconciliation re-approves only those.
   * A call Talkdesk answered with its outcome (or a read showing it concluded) is a check of
   * Talkdesk's view, so reconciliation's window for the installation starts again there. Not one
   * that found something else (`notSent`): what Talkdesk showed may be drift for the pass to repair.
   */
  const confirmed = async (input: StateCallInput, result: StateCallResult): Promise<StateCallResult> => {
    const at = new Date();
    // Not from a read showing `pending` (counted concluded, but no evidence that this service's approval landed).
    if (input.state === 'approve' && input.concludes === 'install' && !result.notSent && !showsOperationOpen(result.state)) {
      await deps.store.installations.markInstallApproved(input.installationId, at);
    } else if (!result.notSent && alreadyConcluded(input, { state: result.state })) {
      // Only saves the pass a read: a store that fails here must not fail the call Talkdesk took.
      await deps.store.installations.markTalkdeskChecked(input.installationId, at).catch((err: unknown) => {
        deps.logger.warn({ installationId: input.installationId, err }, 'Talkdesk check not recorded: reconciliation reads it');
      });
    }
    return result;
  };

  /** Read only, never sent (a phase's deadline): what the table says of Talkdesk's state, a send counted as not sent. */
  const lastRead = async (read: DeadlineReadInput): Promise<StateCallResult> => {
    const input: StateCallInput = { ...read, state: 'approve', checkFirst: true };
    const current = await currentState(input);
    // The read cannot be made at all (say, no `apps:read` scope): nothing known, nothing kept.
    if (!current) return { state: 'unknown', notSent: true };
    if (decideStateCall(input, current) === 'concluded') {
      deps.logger.info(
        { installationId: input.installationId, concludes: input.concludes, talkdeskState: current.state },
        'read at the deadline: concluded at Talkdesk (the approval landed, its answer lost)',
      );
      return confirmed(input, { state: current.state, alreadyConcluded: true });
    }
    return { state: current.state, notSent: true, ...(current.reason ? { reason: current.reason } : {}) };
  };

  /**
   * The state call itself, run heartbeating. Cancellation is checked right before the POST
   * (after the read and the token request, which can take a timeout each): an attempt the
   * workflow cancelled, or the server timed out, must not approve after the workflow moved on.
   */
  const sendState = async (input: StateCallInput): Promise<StateCallResult> => {
    if (input.checkFirst) {
      const early = await notToSend(input);
      if (early) return confirmed(input, early);
    }
    let res: { state: string };
    try {
      res = await withToken(deps, input, (token) => {
        heartbeat();
        Context.current().cancellationSignal.throwIfAborted();
        return deps.talkdesk.setInstallationState(
          input.rootUrl,
          input.appId,
          input.installationId,
          token,
          input.state === 'approve' ? { state: 'approve' } : { state: 'reject', reason: input.reason ?? 'rejected' },
        );
      });
    } catch (err) {
      // 409: nothing open. 403: the reference's only documented refusal of this call, whose meaning it does not give
      // (nothing open is one): read, not taken as final blind. A 2xx whose body is not the documented one: the call
      // landed all the same (failing it for good would undo an install Talkdesk approved). What Talkdesk shows decides;
      // showing the phase's operation still open, the call's own failure stands.
      const unclear = (e: TalkdeskHttpError) => e.kind === 'conflict' || e.kind === 'forbidden' || e instanceof TalkdeskProtocolError;
      if (err instanceof TalkdeskHttpError && unclear(err)) {
        const late = await notToSend(input);
        if (late) return confirmed(input, late);
      }
      throw err;
    }
    deps.logger.info({ installationId: input.installationId, state: input.state }, 'installation state sent to Talkdesk');
    return confirmed(input, { state: res.state });
  };

  return {
    /**
     * Approve or reject the installation (also acknowledges an update or an
     * uninstall). A retry reads the installation's state first: when the earlier
     * attempt took effect at Talkdesk but its answer was lost, the call is not sent
     * twice, and nothing is sent for an operation that is not the phase's own. A 409
     * (nothing open at Talkdesk) is answered the same way, from what Talkdesk shows.
     * Heartbeats from its start, the read and the token request included (a timeout each,
     * together longer than the heartbeat timeout), so that a cancellation reaches it and
     * the workflow waits for it to end; an attempt cancelled before its POST never sends it.
     */
    async setInstallationState(input: StateCallInput): Promise<StateCallResult> {
      return heartbeating(() => sendState(input));
    },

    /**
     * The last read of a phase at its deadline (patch expired-phase-reads-talkdesk-last): `alreadyConcluded` when
     * Talkdesk shows the phase's operation concluded (its approval landed, the answer lost), else `notSent` with what it
     * shows (`unknown` when it cannot be read at all). Never sends a state call. Heartbeats, as a state call does.
     */
    async readInstallationState(input: DeadlineReadInput): Promise<StateCallResult> {
      return heartbeating(() => lastRead(input));
    },

    /**
     * Tells Talkdesk the rotated credentials are in use: POST .../credentials/{client_id}/state.
     * Talkdesk answers 409 once a client id is acknowledged, so a call sent again after its
     * answer was lost (timeout, worker killed) meets 409 for its own acknowledgement: when an
     * earlier attempt may have been sent (`resent`, or a server-side retry of this activity),
     * that 409 counts as done. On a first attempt it stays a conflict: something else acknowledged
     * this set, or Talkdesk does not expect it.
     */
    async acknowledgeCredentials(input: AcknowledgeInput): Promise<void> {
      try {
        await withToken(deps, input, (token) =>
          deps.talkdesk.acknowledgeCredentials(input.rootUrl, input.appId, input.installationId, input.clientId, token),
        );
      } catch (err) {
        if (!(mayHaveLanded(input) && err instanceof TalkdeskHttpError && err.kind === 'conflict')) throw err;
        deps.logger.info(
          { installationId: input.installationId, clientId: input.clientId },
          'credentials already acknowledged at Talkdesk (409 after an attempt that may have landed): counted as acknowledged',
        );
      }
      heartbeat();
    },
  };
}

/** An earlier attempt of this call may have reached Talkdesk: the workflow says so, or the server retried the activity. */
function mayHaveLanded(input: { resent?: boolean }): boolean {
  return input.resent === true || Context.current().info.attempt > 1;
}

/**
 * Talkdesk may revoke an app's credentials once its uninstall is acknowledged (its docs are silent):
 * a retry of that acknowledgement whose earlier attempt may have landed, its answer lost, then meets
 * `invalid_client`. That refusal is the acknowledgement's effect. On a first attempt it stays a failure.
 */
function revokedByEarlierAcknowledgement(input: StateCallInput, err: unknown): boolean {
  const ack = input.state === 'approve' && input.concludes === 'uninstall';
  return ack && mayHaveLanded(input) && err instanceof TalkdeskHttpError && err.isInvalidClient;
}

/** A Talkdesk answer that the same read will get again next pass: it no longer serves the installation to us. */
export function refusedForGood(err: unknown): boolean {
  if (!(err instanceof TalkdeskHttpError)) return false;
  return err.kind === 'not_found' || err.kind === 'unauthorized' || err.kind === 'forbidden' || err.isInvalidClient;
}
