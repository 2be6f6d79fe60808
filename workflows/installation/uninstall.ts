import type { LifecycleEventOf } from '../definitions';
import { deprovisionAccount, destroyCredentials, takeLinks } from './common';
import { NOT_OPEN_AT_TALKDESK, type PhaseContext, type PhaseEnd } from './context';

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
