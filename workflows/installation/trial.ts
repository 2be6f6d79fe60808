import type { LifecycleEvent } from '../definitions';
import type { PhaseContext } from './context';

/** Trial events: kept on the installation and recorded on the partner account. */
export async function runTrial(ctx: PhaseContext, event: LifecycleEvent): Promise<void> {
  const { state } = ctx;
  const f = event.facts as Record<string, string | undefined>;
  state.trial =
    event.type === 'app.trial_started'
      ? { startedAt: event.createdAt, expiresAt: f.expires_at }
      : { ...state.trial, expiresAt: f.expires_at ?? state.trial?.expiresAt, endedAt: f.ended_at, endedReason: f.ended_reason, endedBy: f.ended_by };
  await ctx.step('record the trial on the account', ctx.acts.recordTrial, {
    installationId: ctx.installationId,
    accountId: state.accountId,
    trial: state.trial,
  });
  ctx.describe();
}
