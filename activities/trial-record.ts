import type { AccountRecord } from '../src/store/accounts';
import type { TrialInput } from '../workflows/activity-types';

export type { TrialInput };
type Trial = TrialInput['trial'];

/**
 * The trial a trial event records. A run that did not know the trial (one resumed from the installation record, or a
 * short run for an event after the installation finished) sends an extension or an end without the trial's start: the
 * fields it lacks are taken from the trial the account holds, when that trial began no later than the event (not a
 * later one's) and has not ended. A start is recorded as it is: it begins a new trial.
 */
export function trialToRecord(input: Pick<TrialInput, 'trial' | 'eventType' | 'occurredAt'>, stored: AccountRecord['trial']): Trial {
  const trial = input.trial;
  if (trial.startedAt !== undefined || input.eventType === 'app.trial_started' || stored?.startedAt === undefined) return trial;
  // An ended trial is not the one an extension or end is for (a later trial whose start never reached the account),
  // unless this end ended it: an earlier attempt of the same event, whose answer was lost, sends the same trial again.
  if (stored.endedAt !== undefined && stored.endedAt !== trial.endedAt) return trial;
  if (input.occurredAt !== undefined && Date.parse(stored.startedAt) > Date.parse(input.occurredAt)) return trial;
  const known = Object.fromEntries(Object.entries(trial).filter(([, v]) => v !== undefined)) as Trial;
  return { ...stored, ...known };
}
