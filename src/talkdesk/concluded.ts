import type { TalkdeskInstallationState } from './schemas';

/** What a state call (approve or reject) is meant to conclude. */
export interface StateCallIntent {
  state: 'approve' | 'reject';
  concludes?: 'install' | 'update' | 'uninstall';
}

/**
 * Whether Talkdesk's view already shows the outcome of this state call, so a
 * retry after a lost answer must not send it again. Conservative: when in doubt
 * (no operation given, a state that does not show the outcome) the answer is
 * false and the call is sent, as it would have been without the check.
 */
export function alreadyConcluded(intent: StateCallIntent, current: TalkdeskInstallationState): boolean {
  if (intent.state === 'reject') return current.state === 'rejected';
  const op = intent.concludes;
  if (op === 'uninstall') return current.state === 'revoked';
  // Install or update: Talkdesk is pending from the event until an approval completes
  // it, so `completed` means it was concluded. (Not `pending`: an uninstall made while
  // the install waited shows as pending too, with nothing approved.) No time is
  // compared: an event's created_at can be after the completion (clocks, rounding).
  return op !== undefined && current.state === 'completed';
}
