import type { LifecycleEventOf } from '../definitions';
import type { PhaseContext } from './context';

/* A compromised rotation's revoked sets, and a rotation older than one applied (late). */

/**
 * Patch: a compromised rotation older than one applied destroys the retiring sets issued before its event, which
 * Talkdesk revoked when it rotated. Before it, such a set (the one a newer routine rotation had retired) kept its
 * ciphertext until that rotation's grace ended, up to seven days. Decided at start only (the sixteenth generation).
 */
export const LATE_COMPROMISED_ROTATION_DESTROYS_REVOKED_SETS = 'late-compromised-rotation-destroys-revoked-sets';

/**
 * Patch: a compromised rotation applied in order (switched to, also after a failed acknowledgement or its deadline)
 * destroys the retiring sets issued before its event too, as a late one does (above): Talkdesk revoked every set in
 * force when it rotated. Before it, only the set it replaced was destroyed; one an earlier routine rotation had
 * retired kept its ciphertext until that rotation's grace ended, up to seven days. Run once the rotation's outcome is
 * settled (out of its phase: an interruption cannot stop a rotation whose switch landed). Decided at start only (asked
 * right after the switch, a local activity: the eighteenth generation).
 */
export const COMPROMISED_ROTATION_DESTROYS_RETIRING_SETS = 'compromised-rotation-destroys-retiring-sets';

/**
 * Destroys the retiring sets issued before a compromised rotation's event, which Talkdesk revoked when it rotated, and
 * takes them out of the state's retiring list. Whether any was destroyed.
 */
export async function destroyRevokedRetiring(ctx: PhaseContext, event: LifecycleEventOf<'app.credentials_rotated'>): Promise<boolean> {
  const { state } = ctx;
  const { clientIds } = await ctx.storeStep(
    'destroy the retiring credentials the compromised rotation revoked',
    'destroyRevokedCredentials',
    {
      installationId: ctx.installationId,
      clientIds: state.retiring.map((r) => r.clientId),
      issuedBefore: event.createdAt,
    },
  );
  state.retiring = state.retiring.filter((r) => !clientIds.includes(r.clientId));
  return clientIds.length > 0;
}

/**
 * A rotation older than one applied: its credentials are already replaced, so it is
 * never switched to. It is acknowledged if Talkdesk still expects it (Talkdesk
 * answers 409, or refuses its token, when it does not); its set is then destroyed.
 * Returns the decision, for the phase history.
 */
export async function runLateRotation(ctx: PhaseContext, event: LifecycleEventOf<'app.credentials_rotated'>): Promise<string> {
  const { state, acts, installationId, options } = ctx;
  const deadline = Date.parse(event.createdAt) + options.phaseTimeoutMs;
  let lateClientId: string | undefined;
  const outcome = await ctx.phases.run(deadline, async () => {
    const creds = await ctx.storeStep('import the late rotation to acknowledge it', 'importCredentials', {
      installationId,
      eventId: event.eventId,
      activate: false,
    });
    lateClientId = creds.clientId;
    await ctx.step('acknowledge the late rotation at Talkdesk', acts.acknowledgeCredentials, (attempt) => ({
      ...ctx.talkdeskRef(),
      clientId: creds.clientId,
      resent: attempt > 1,
    }));
  });
  state.currentStep = undefined;
  const inUse = (id: string) => id === state.activeClientId || state.retiring.some((r) => r.clientId === id);
  if (lateClientId && !inUse(lateClientId)) {
    await ctx.storeStep('destroy the late rotation credentials', 'destroyCredentials', { installationId, clientId: lateClientId });
  }
  // Whatever its acknowledgement's outcome: Talkdesk revoked the sets in force when it rotated.
  let revoked = '';
  if (event.facts.compromised === true && state.retiring.length > 0 && ctx.patched(LATE_COMPROMISED_ROTATION_DESTROYS_REVOKED_SETS)) {
    if (await destroyRevokedRetiring(ctx, event))
      revoked = `; the retiring credentials issued before it destroyed (compromised: revoked by Talkdesk)`;
  }
  const why =
    outcome.kind === 'done'
      ? 'acknowledged at Talkdesk'
      : outcome.kind === 'failed'
        ? `not acknowledged: Talkdesk no longer expects it (${outcome.error.message})`
        : `not acknowledged (${outcome.kind === 'interrupted' ? outcome.reason : outcome.kind})`;
  return `rotation older than an applied rotation: ${why}; its credentials were already replaced, never switched to${revoked}`;
}
