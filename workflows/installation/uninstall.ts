import type { LifecycleEventOf } from '../definitions';
import { markHandled, olderThanApplied, recordIgnored } from '../state';
import { deprovisionAccount, destroyCredentials, takeLinks } from './common';
import { NOT_OPEN_AT_TALKDESK, type PhaseContext, type PhaseEnd } from './context';
import { adoptForUninstall, adoptsForUninstall } from './rotation';

/**
 * Patch: a rotation delivered while the uninstall runs (queued behind it), older than it and one an uninstall adopts
 * (compromised, or routine past Talkdesk's grace), gives the acknowledgement its set, as one queued before the uninstall
 * began does (apply.ts): Talkdesk revoked the old set when it rotated. Before it, the acknowledgement went with the
 * revoked set and failed for good, Talkdesk never told. Decided at start only (patches.ts, the twelfth generation).
 */
export const UNINSTALL_ADOPTS_ROTATION_QUEUED_MEANWHILE = 'uninstall-adopts-rotation-queued-meanwhile';

/** The newest such rotation queued now, taken out of the queue and adopted (patch above); handled, recorded as ignored. */
async function adoptRotationQueuedMeanwhile(ctx: PhaseContext, uninstall: LifecycleEventOf<'app.uninstalled'>): Promise<void> {
  const { state } = ctx;
  // Not one of an earlier life of a same-id reinstall (older than the applied install, or than an uninstall known to
  // have ended that life: a reinstall skipped for this uninstall is never applied): over, its set revoked.
  const rotations = state.queue.filter(
    (e): e is LifecycleEventOf<'app.credentials_rotated'> =>
      e.type === 'app.credentials_rotated' &&
      Date.parse(e.createdAt) <= Date.parse(uninstall.createdAt) &&
      !olderThanApplied(state, 'install', e) &&
      !olderThanApplied(state, 'uninstall', e),
  );
  // Newest first: once one is adopted, the older ones are older than an applied rotation (never adopted over it).
  const rotation = rotations.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)).find((r) => adoptsForUninstall(ctx, r));
  if (!rotation) return;
  // Taken from the queue once adopted: a run continued as new in the import's backoff carries it queued, and adopts it again.
  const { why } = await adoptForUninstall(ctx, rotation);
  state.queue = state.queue.filter((e) => e !== rotation);
  recordIgnored(state, rotation.eventId, `rotation superseded by the running uninstall; ${why}`);
  markHandled(state, rotation.eventId);
}

/**
 * app.uninstalled: deprovision and acknowledge at Talkdesk. It always ends
 * uninstalled: Talkdesk deprovisions an unacknowledged uninstall after seven days, so do we.
 */
export async function runUninstall(ctx: PhaseContext, event: LifecycleEventOf<'app.uninstalled'>): Promise<void> {
  const { state } = ctx;
  takeLinks(ctx, event);
  const deadline = await ctx.beginPhase('uninstalling', event);
  const outcome = await ctx.phases.run(deadline, async () => {
    await deprovisionAccount(ctx, event);
    if (ctx.patched(UNINSTALL_ADOPTS_ROTATION_QUEUED_MEANWHILE)) await adoptRotationQueuedMeanwhile(ctx, event);
    if (ctx.canCallTalkdesk()) {
      await ctx.stateCall('acknowledge the uninstall at Talkdesk', { state: 'approve', concludes: 'uninstall' });
    }
  });
  let end: PhaseEnd = ctx.canCallTalkdesk()
    ? { result: 'acknowledged', outcome: 'acknowledged' }
    : {
        result: 'deprovisioned',
        detail: 'no credentials were ever received',
        outcome: 'no credentials were ever received: deprovisioned locally',
      };
  if (outcome.kind !== 'done') {
    await deprovisionAccount(ctx, event);
    if (outcome.kind === 'expired') {
      end = { result: 'expired', outcome: 'not acknowledged within seven days: deprovisioned locally' };
    } else {
      const why = outcome.kind === 'failed' ? outcome.error.message : outcome.reason;
      const notOpen = outcome.kind === 'failed' && outcome.error.failureType === NOT_OPEN_AT_TALKDESK;
      end = {
        result: notOpen ? 'not-open' : outcome.kind,
        detail: why,
        outcome: `acknowledgement failed (${why}): deprovisioned locally`,
      };
    }
  }
  await destroyCredentials(ctx);
  state.activeClientId = undefined;
  await ctx.endPhase('uninstalled', end);
}
