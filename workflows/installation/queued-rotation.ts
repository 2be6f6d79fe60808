import { CREDENTIALS_REFUSED } from '../activity-types';
import type { LifecycleEvent, LifecycleEventOf } from '../definitions';
import { markKindApplied, olderThanApplied, type InstallationState } from '../state';
import { StepFailedError } from '../steps';
import { adoptOrWhyNot } from './common';
import type { PhaseContext } from './context';
import { adoptsForUninstall } from './rotation';

/**
 * Patch: a Talkdesk call of an install or an update (its provisioning, its applying, its approval) refused for good with
 * the active set (`invalid_client`: revoked) while a rotation that revoked it waits in the queue (compromised,
 * unflagged, or routine past its grace; of this life, no uninstall queued before it) takes that rotation's set as the
 * active one and is made again with it, once. The rotation stays queued and runs as usual after the phase (its import
 * finds the set, its acknowledgement and switch follow). Before it, a compromised rotation delivered while an update
 * applied (or an install provisioned) failed the phase: the update reverted and its rejection refused too (left to expire
 * at Talkdesk), the install undone and the installation lost. Decided at start only (asked after a failed step: the
 * eighteenth generation).
 */
export const CALL_ADOPTS_QUEUED_ROTATION = 'talkdesk-call-adopts-queued-rotation';

/** The newest rotation queued now whose set Talkdesk keeps in place of a revoked one, of this life. */
function revokingRotation(ctx: PhaseContext): LifecycleEventOf<'app.credentials_rotated'> | undefined {
  const { state } = ctx;
  const uninstalls = state.queue.filter((e) => e.type === 'app.uninstalled').map((e) => Date.parse(e.createdAt));
  // While an install runs, not one older than it (an earlier life's, delivered late: its set revoked since).
  const running = state.phase === 'installing' ? ctx.run.installEvent : undefined;
  return state.queue
    .filter(
      (e): e is LifecycleEventOf<'app.credentials_rotated'> =>
        e.type === 'app.credentials_rotated' &&
        !olderThanApplied(state, 'install', e) &&
        !(running && Date.parse(e.createdAt) < Date.parse(running.createdAt)) &&
        // After an uninstall queued before it, it may be a same-id reinstall's: never taken for this life.
        !uninstalls.some((at) => at <= Date.parse(e.createdAt)),
    )
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .find((r) => adoptsForUninstall(ctx, r));
}

/** The adoption's step: a phase cut by continue-as-new in its backoff is re-entered there (`resumedAdoption`). */
const ADOPT_STEP = "import the queued rotation's credentials: Talkdesk refused the active set";

/** Adopts `rotation`'s set as the active one (its import destroys the sets it replaces); whether it was imported. */
async function adopt(ctx: PhaseContext, rotation: LifecycleEventOf<'app.credentials_rotated'>): Promise<boolean> {
  if ((await adoptOrWhyNot(ctx, rotation, ADOPT_STEP)) !== undefined) return false;
  // The sets it replaced are revoked (or past their grace): the import destroyed them.
  ctx.state.retiring = [];
  // As an uninstall's adoption: an older rotation still queued is late now (acknowledged, never switched to over the
  // set Talkdesk keeps); this one, of the same time, still runs in order.
  markKindApplied(ctx.state, 'rotation', rotation.createdAt);
  return true;
}

/**
 * A Talkdesk call of the phase (`call` reads the active set when made), made again once with the set of a rotation queued
 * meanwhile when Talkdesk refused the active set for good (CALL_ADOPTS_QUEUED_ROTATION). Any other failure, or no
 * rotation to adopt, is the call's.
 */
export async function adoptingQueuedRotation<T>(ctx: PhaseContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof StepFailedError) || !CREDENTIALS_REFUSED.includes(err.failureType)) throw err;
    const rotation = revokingRotation(ctx);
    if (!rotation || !ctx.patched(CALL_ADOPTS_QUEUED_ROTATION)) throw err;
    if (!(await adopt(ctx, rotation))) throw err;
    // The refused call may have landed in an earlier attempt (its answer lost): made again, a state call reads first.
    ctx.run.remadeAfterAdoption = true;
    try {
      return await call();
    } finally {
      ctx.run.remadeAfterAdoption = undefined;
    }
  }
}

/**
 * A phase re-entered after a continue-as-new cut in the adoption's backoff: the adoption goes on first (its import may
 * have destroyed the active set already, which no call could use). Whether it adopted a set.
 */
export async function resumedAdoption(ctx: PhaseContext): Promise<boolean> {
  if (ctx.steps.resumedStep !== ADOPT_STEP || !ctx.patched(CALL_ADOPTS_QUEUED_ROTATION)) return false;
  const rotation = revokingRotation(ctx);
  return rotation !== undefined && (await adopt(ctx, rotation));
}

/**
 * Whether the active set is a queued rotation's that a call of the install adopted (CALL_ADOPTS_QUEUED_ROTATION): the one
 * Talkdesk keeps for it, its own set destroyed by the adoption, so a reject or an uninstall answers Talkdesk with it.
 */
export function adoptedForInstall(state: InstallationState, install: LifecycleEvent): boolean {
  return state.queue.some(
    (e) =>
      e.type === 'app.credentials_rotated' &&
      (e.facts as { client_id?: string }).client_id === state.activeClientId &&
      Date.parse(e.createdAt) >= Date.parse(install.createdAt),
  );
}

/**
 * A rotation older than one a call adopted (CALL_ADOPTS_QUEUED_ROTATION) is late, though no applied event is newer: it
 * is acknowledged, never switched to over the set Talkdesk keeps (late.ts). Without an adoption, a rotation older than
 * an applied one is older than the newest event applied too (`isSuperseded`): nothing else changes.
 */
export function olderThanAdopted(ctx: PhaseContext, event: LifecycleEvent): boolean {
  return (
    event.type === 'app.credentials_rotated' && olderThanApplied(ctx.state, 'rotation', event) && ctx.patched(CALL_ADOPTS_QUEUED_ROTATION)
  );
}
