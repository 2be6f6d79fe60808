import type { TalkdeskInstallationState } from './schemas';

/** What a state call (approve or reject) is meant to conclude. */
export interface StateCallIntent {
  state: 'approve' | 'reject';
  concludes?: { operation: 'install' | 'update' | 'uninstall'; since: string };
}

/**
 * Whether Talkdesk's view already shows the outcome of this state call, so a
 * retry after a lost answer must not send it again. Conservative: when in doubt
 * (no operation given, a state from before the event, an unreadable time) the
 * answer is false and the call is sent, as it would have been without the check.
 */
export function alreadyConcluded(intent: StateCallIntent, current: TalkdeskInstallationState): boolean {
  if (intent.state === 'reject') return current.state === 'rejected';
  const op = intent.concludes?.operation;
  if (op === 'uninstall') return current.state === 'revoked';
  if (op === undefined || current.state !== 'completed') return false;
  // Only an approval completes an install. (Not `pending`: an uninstall made while
  // the install was still waiting shows as pending too, with nothing approved.)
  if (op === 'install') return true;
  // An update: the completion must be this update's, not the one before it.
  const since = Date.parse(intent.concludes?.since ?? '');
  const at = Date.parse(current.updated_at ?? '');
  return Number.isFinite(since) && Number.isFinite(at) && at >= since;
}
