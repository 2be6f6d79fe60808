import type { LifecycleEvent } from '../definitions';
import { markKindApplied } from '../state';
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
