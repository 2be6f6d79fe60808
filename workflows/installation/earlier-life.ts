import type { LifecycleEvent } from '../definitions';
import { markKindApplied, type InstallationState } from '../state';
import type { PhaseContext } from './context';

/**
 * Patch: an earlier life's uninstall judged over (older than a reinstall running or applied), and one a run resumed
 * from the record finds no newer than its install, counts as that life's end: a trial event of the earlier life
 * delivered later (no newer than it) is over too, not recorded on the reinstall's account. Before it, such a trial
 * event was judged by an uninstall this run never marked, and recorded. Decided at start only (patches.ts, the twelfth generation).
 */
export const EARLIER_LIFE_UNINSTALL_KNOWN = 'earlier-life-uninstall-known';

/** An earlier life's uninstall judged over: its time kept (patch above), for that life's late trial events. */
export function markEarlierLifeUninstall(ctx: PhaseContext, event: LifecycleEvent): void {
  if (ctx.patched(EARLIER_LIFE_UNINSTALL_KNOWN)) markKindApplied(ctx.state, 'uninstall', event.createdAt);
}

/**
 * Patch: in a run for an uninstalled installation, an event newer than that uninstall can only be a new life's (a same-id
 * reinstall whose install is late: its first delivery failed, or its hand-over waited). It waits for that install as a
 * first install's events do (orderingGraceMs), instead of being applied to the ended installation (an uninstall
 * deprovisioned without credentials, Talkdesk never told; an update or a rotation ignored). Decided at start only
 * (patches.ts, the thirteenth generation).
 */
export const NEW_LIFE_WAITS_FOR_ITS_INSTALL = 'new-life-waits-for-its-install';

/**
 * Patch: a new life's uninstall waits for its install even while a newer install is queued behind it (a later life's):
 * newer than the last end and older than that install, it ends a life in between whose install is late. Before it, the
 * queued install ended the wait, and the uninstall was deprovisioned without credentials (Talkdesk never told), its
 * install then ignored as over. Other events go on as before: the later install must not wait on each (a trial event
 * of the earlier life may be stamped after its uninstall). Decided at start only (patches.ts, the fourteenth generation).
 */
export const NEW_LIFE_WAITS_PAST_NEWER_INSTALL = 'new-life-waits-past-newer-install';

/**
 * Whether the event at the head of the queue is a new life's whose install has not come yet, to wait for it (patch
 * above). Not once an install newer than the uninstall was taken (skipped for a queued uninstall), nor while one is
 * queued when that ends the wait (newerInstallEndsWait).
 */
export function newLifeBeforeItsInstall(ctx: PhaseContext, head: LifecycleEvent): boolean {
  const { phase, appliedAt, queue } = ctx.state;
  const ended = appliedAt?.uninstall;
  if (phase !== 'uninstalled' || head.type === 'app.installed' || ended === undefined) return false;
  if (Date.parse(head.createdAt) <= Date.parse(ended) || installedSinceEnd(ctx.state)) return false;
  if (queue.some((e) => e.type === 'app.installed') && newerInstallEndsWait(ctx, head)) return false;
  return ctx.patched(NEW_LIFE_WAITS_FOR_ITS_INSTALL);
}

/**
 * Patch: a new life's rotation waits for its install too when an uninstall is queued before the first queued install
 * (that uninstall ends the rotation's life, whose install is late: the queued install is a later life's). Before it, the
 * rotation was taken at once, superseded by the uninstall with no set to adopt; the late install's set then answered the
 * uninstall, revoked by that rotation (Talkdesk never told). Asked once per run, at the first rotation or uninstall
 * signalled, or at the start of a run carrying one (askRotationWaits): a run that sees neither records no marker.
 */
export const NEW_LIFE_ROTATION_WAITS_BEFORE_UNINSTALL = 'new-life-rotation-waits-before-uninstall';

/**
 * Asks the patch above once per run when `events` (a signal's, or a carried queue at the run's start) hold a rotation or
 * an uninstall: by what was signalled alone, never by what the queue holds then, which code after a local activity
 * changes and a split workflow task runs before or after a signal's handler (docs/versioning.md).
 */
export function askRotationWaits(ctx: PhaseContext, events: readonly LifecycleEvent[]): void {
  if (ctx.run.rotationWaits !== undefined) return;
  if (events.some((e) => e.type === 'app.credentials_rotated' || e.type === 'app.uninstalled'))
    ctx.run.rotationWaits = ctx.patched(NEW_LIFE_ROTATION_WAITS_BEFORE_UNINSTALL);
}

/**
 * Whether an install queued behind the head (newer) ends its new life's wait: not an uninstall's, under the patch; nor
 * a rotation's with an uninstall queued before that install, under the next (the patches above).
 */
export function newerInstallEndsWait(ctx: PhaseContext, head: LifecycleEvent): boolean {
  if (head.type === 'app.uninstalled') return !ctx.patched(NEW_LIFE_WAITS_PAST_NEWER_INSTALL);
  if (head.type !== 'app.credentials_rotated' || ctx.run.rotationWaits !== true) return true;
  const { queue } = ctx.state;
  const install = queue.findIndex((e) => e.type === 'app.installed');
  const uninstall = queue.findIndex((e) => e.type === 'app.uninstalled');
  return uninstall < 0 || (install >= 0 && install < uninstall);
}

/** An install newer than the last uninstall was taken (applied, or skipped for its own uninstall). */
function installedSinceEnd({ appliedAt }: InstallationState): boolean {
  const { install, uninstall } = appliedAt ?? {};
  return install !== undefined && uninstall !== undefined && Date.parse(install) > Date.parse(uninstall);
}

/**
 * Patch: an install skipped for a queued uninstall (its set adopted for the acknowledgement) marks its time as an
 * applied install's would: a life began there, so an earlier life's rotation delivered later is over, never adopted for
 * the uninstall (its set revoked; importing it destroyed the install's); and in a run whose phase is `uninstalled` (the
 * earlier life's end), that life's own rotation may still be adopted for its uninstall (newLifeSkippedInstall). Decided
 * at start only (patches.ts, the thirteenth generation).
 */
export const SKIPPED_INSTALL_BEGINS_ITS_LIFE = 'skipped-install-begins-its-life';

/** A new life's install was skipped for its uninstall since the installation's last end: its rotations are that life's. */
export function newLifeSkippedInstall(ctx: PhaseContext): boolean {
  return ctx.state.phase === 'uninstalled' && installedSinceEnd(ctx.state) && ctx.patched(SKIPPED_INSTALL_BEGINS_ITS_LIFE);
}

/**
 * Patch: a deprovision on Talkdesk's `revoked` (reconciliation) marks the installation's end at the state's
 * `updated_at`, as an applied uninstall marks its own time: events created no later are of the life it ended. And an
 * uninstall no newer than the installation's end, with no install since, is that end's (the uninstall reconciliation
 * acted on, delivered late): ignored, the installation already uninstalled. Before it, that uninstall ran a second
 * uninstall phase on the finished installation, recorded "deprovisioned, no credentials were ever received"; in a run
 * started for it, after waiting a new life's grace for an install. Decided at start only (patches.ts, the seventeenth
 * generation).
 */
export const REVOKED_STATE_ENDS_ITS_LIFE = 'revoked-state-ends-its-life';

/** How far Talkdesk's time of a revoke may be ahead of the workflow's clock and still be taken (at the workflow's). */
const REVOKE_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Marks the end reconciliation found (patch above): Talkdesk's time of the revoke, when it sent one that is a date; one
 * later than the workflow's clock is taken at that clock (an end marked after a same-id reinstall's install would make
 * that install over), and one more than REVOKE_CLOCK_SKEW_MS later is not taken at all (a hand-sent typo).
 */
export function markRevokedEnd(ctx: PhaseContext, endedAt: string | undefined): void {
  const at = endedAt === undefined ? NaN : Date.parse(endedAt);
  const now = Date.now();
  if (Number.isNaN(at) || at > now + REVOKE_CLOCK_SKEW_MS) return;
  if (ctx.patched(REVOKED_STATE_ENDS_ITS_LIFE)) markKindApplied(ctx.state, 'uninstall', new Date(Math.min(at, now)).toISOString());
}

/** Why an uninstall is the installation's end already applied (patch above), or undefined when it is not. */
export function uninstallOfTheEnd(ctx: PhaseContext, event: LifecycleEvent): string | undefined {
  const ended = ctx.state.appliedAt?.uninstall;
  if (ctx.state.phase !== 'uninstalled' || ended === undefined || installedSinceEnd(ctx.state)) return undefined;
  if (Date.parse(event.createdAt) > Date.parse(ended) || !ctx.patched(REVOKED_STATE_ENDS_ITS_LIFE)) return undefined;
  return `uninstall no newer than the installation's end (${ended}): already uninstalled, nothing to acknowledge`;
}
