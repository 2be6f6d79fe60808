import { callKey } from '../src/partner/keys';
import type { Store } from '../src/store';
import type { UpdateInput } from '../workflows/activity-types';
import type { ReadingStore } from './licensed-users';

/** Up to this many users an update adds are read one GET each; more, from the licensed users' listing. */
export const USERS_READ_ONE_BY_ONE = 50;
/** The key of a resync's confirming reading (licensedDifference), kept apart from its first. */
export const CONFIRM = ':confirm';

/** Whether the update reads the licensed users' listing (a resync, or many users added): its pages are kept. */
export const readsListing = (input: UpdateInput): boolean =>
  input.resyncUsers === true || new Set(input.usersAdding).size > USERS_READ_ONE_BY_ONE;

/**
 * What keys an update's calls (its plan, its reading of the licensed users, the partner's idempotency key, its revert):
 * the event, and for a late one also the newest update applied when it began (`UpdateInput.lateAfter`), so a later
 * handling of the same event after a newer update plans afresh.
 */
export const keyBasis = (input: { eventId?: string; lateAfter?: string }): string | undefined =>
  input.eventId && input.lateAfter ? `${input.eventId}@after:${input.lateAfter}` : input.eventId;

/**
 * The reading of the licensed users kept in MongoDB under the step's call key, so the
 * workflow's next attempt (a new activity) resumes it. None without an event to key it.
 */
export const licensedUsersReading =
  (store: Store) =>
  (
    input: { installationId: string; eventId?: string; lateAfter?: string },
    operation: 'account.provision' | 'account.update',
    part = '',
  ) => {
    const basis = keyBasis(input);
    if (!basis) return undefined;
    const key = callKey(input.installationId, basis, operation) + part;
    const saved: ReadingStore = {
      load: () => store.licensedUsersProgress.load(key),
      savePage: (page, users, next) => store.licensedUsersProgress.savePage(key, input.installationId, page, users, next),
    };
    return { key, saved };
  };
