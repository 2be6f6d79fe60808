import { IN_PROGRESS_PHASES } from '../definitions';
import type { InstallationState } from '../state';

/** The Temporal UI's "current details" of an installation: where it stands, in a few lines. */
export function currentDetails(state: InstallationState): string {
  const parts = [`Phase: ${state.phase}.`];
  if (state.currentStep) parts.push(`Now: ${state.currentStep}${state.attempts > 1 ? ` (attempt ${state.attempts})` : ''}.`);
  if (state.lastError) parts.push(`Last error: ${state.lastError}.`);
  if (state.deadline) parts.push(`Deadline: ${state.deadline}.`);
  if (state.queue.length) parts.push(`Waiting events: ${state.queue.map((e) => e.type).join(', ')}.`);
  else if (!IN_PROGRESS_PHASES.includes(state.phase)) parts.push('Waiting for the next Talkdesk event.');
  return parts.join('\n');
}
