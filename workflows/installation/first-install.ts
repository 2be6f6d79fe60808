import type { PhaseContext } from './context';

/**
 * Patch: before the first install, an `app.installed` queued behind older events (an `app.trial_started` Talkdesk dated
 * a moment before it) is taken first, at once, unless an uninstall is ahead of it (it may end a life in between). The
 * events it passed are then judged late, by their kind's rule (late.ts): a trial event of its life recorded on the new
 * account, an earlier life's event over. Before it, the wait for an install watched the head of the queue only: the
 * install waited the whole ordering grace (15 minutes) behind the older event, which was then applied to an installation
 * with no account. Decided at start only (patches.ts, the seventeenth generation).
 */
export const FIRST_INSTALL_TAKEN_AHEAD = 'first-install-taken-ahead';

/** Where the install to take first stands in the queue (patch above): > 0 when there is one behind the head, else -1. */
export function queuedInstallToTake(ctx: PhaseContext): number {
  const { queue } = ctx.state;
  const at = queue.findIndex((e) => e.type === 'app.installed');
  if (at <= 0 || queue.slice(0, at).some((e) => e.type === 'app.uninstalled')) return -1;
  return ctx.patched(FIRST_INSTALL_TAKEN_AHEAD) ? at : -1;
}

/** Moves that install to the head of the queue, to be taken now (call right before taking the head: no signal between). */
export function takeQueuedInstallFirst(ctx: PhaseContext): void {
  const at = queuedInstallToTake(ctx);
  if (at < 0) return;
  const { queue } = ctx.state;
  ctx.state.queue = [queue[at]!, ...queue.slice(0, at), ...queue.slice(at + 1)];
}
