import type { LifecycleEventOf } from '../definitions';
import type { InstallationState } from '../state';
import { partnerEvent } from './common';
import type { PhaseContext } from './context';

type TrialEvent = LifecycleEventOf<'app.trial_started' | 'app.trial_extended' | 'app.trial_ended'>;

/** The trial after the event: a start begins one, an extension moves its end, an end closes it. */
function nextTrial(trial: InstallationState['trial'], event: TrialEvent): NonNullable<InstallationState['trial']> {
  const f = event.facts;
  switch (event.type) {
    case 'app.trial_started':
      return { startedAt: event.createdAt, expiresAt: f.expires_at };
    case 'app.trial_extended':
      return { ...trial, expiresAt: f.expires_at ?? trial?.expiresAt };
    case 'app.trial_ended':
      return {
        ...trial,
        expiresAt: event.facts.expires_at ?? trial?.expiresAt,
        endedAt: event.facts.ended_at,
        endedReason: event.facts.ended_reason,
        endedBy: event.facts.ended_by,
      };
  }
}

/** Trial events: kept on the installation and recorded on the partner account. */
export async function runTrial(ctx: PhaseContext, event: TrialEvent): Promise<void> {
  const { state } = ctx;
  state.trial = nextTrial(state.trial, event);
  await ctx.step('record the trial on the account', ctx.acts.recordTrial, {
    installationId: ctx.installationId,
    accountId: state.accountId,
    trial: state.trial,
    eventType: event.type,
    fields: { ...event.facts },
    ...partnerEvent(event),
  });
  ctx.describe();
}
