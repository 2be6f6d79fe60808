import { UNINSTALL_OPEN_STATES, UPDATE_OPEN_STATES, showsOperationOpen } from '../../workflows/talkdesk-states';
import type { TalkdeskInstallationState } from './schemas';

export { UNINSTALL_OPEN_STATES, UPDATE_OPEN_STATES, showsOperationOpen };

/** What a state call (approve or reject) is meant to conclude. */
export interface StateCallIntent {
  state: 'approve' | 'reject';
  concludes?: 'install' | 'update' | 'uninstall';
  /**
   * A late update's (older than an update already applied): the newer one's state call concluded what
   * Talkdesk had open, so nothing open now is this one's, and `pending` is an operation opened since.
   */
  late?: boolean;
}

/**
 * What to do with a state call, given what Talkdesk shows (docs/lifecycle.md, "State
 * calls"): Talkdesk's one state endpoint concludes whatever is pending, so a call is
 * sent only while Talkdesk shows the phase's own operation open.
 * - `send`: the operation is open (`installing` for an install, `pending` for an update or an uninstall, or
 *   the names the docs' prose gives them, `updating` and `uninstalled`;
 *   never for a late update, whose operation the newer update's state call concluded);
 * - `concluded`: Talkdesk already shows this call's outcome (an earlier attempt landed);
 * - `skip`: anything else; nothing is sent, the phase records what Talkdesk showed.
 */
export type StateCallDecision = 'send' | 'concluded' | 'skip';

export function decideStateCall(intent: StateCallIntent, current: TalkdeskInstallationState): StateCallDecision {
  if (alreadyConcluded(intent, current)) return 'concluded';
  const open = intent.late ? [] : openStates(intent.concludes);
  return open.includes(current.state) ? 'send' : 'skip';
}

/** The Talkdesk states in which the operation is still open; unknown operation (legacy input): either. */
function openStates(op: StateCallIntent['concludes']): readonly string[] {
  if (op === 'install') return ['installing'];
  if (op === 'update') return UPDATE_OPEN_STATES;
  if (op === 'uninstall') return UNINSTALL_OPEN_STATES;
  return ['installing', ...UPDATE_OPEN_STATES, ...UNINSTALL_OPEN_STATES];
}

/**
 * Whether Talkdesk's view already shows the outcome of this state call, so a
 * retry after a lost answer must not send it again.
 */
export function alreadyConcluded(intent: StateCallIntent, current: TalkdeskInstallationState): boolean {
  if (intent.state === 'reject') return current.state === 'rejected';
  const op = intent.concludes;
  if (op === 'uninstall') return current.state === 'revoked';
  // Install or update: Talkdesk is pending from the event until an approval completes
  // it, so `completed` means it was concluded. No time is compared: an event's created_at
  // can be after the completion (clocks, rounding).
  if (op === 'install') {
    // A retried install approval that finds `pending`: the earlier attempt landed and Talkdesk has
    // opened an update or uninstall since (answer lost meanwhile). Else it is an uninstall made while
    // the install waited, nothing approved; its own event then deprovisions all the same. Undoing the
    // install (what `skip` does) would delete the account of an installation Talkdesk shows installed.
    return current.state === 'completed' || showsOperationOpen(current.state);
  }
  // A late update: the newer update's approval concluded it; `pending` is an operation opened since, not its own.
  if (op === 'update' && intent.late) return current.state === 'completed' || showsOperationOpen(current.state);
  return op !== undefined && current.state === 'completed';
}
