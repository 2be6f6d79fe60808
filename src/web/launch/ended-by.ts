import type { UserMappingRecord } from '../../store/accounts';
import type { InstallationRecord } from '../../store/installations';
import type { EndingMarks } from '../../store/sessions';
import { SsoFailure } from './reasons';

/** How far Talkdesk's clock (a user.logout's created_at) may be behind ours when a sign-in is weighed against it. */
export const LOGOUT_CLOCK_ALLOWANCE_MS = 5_000;

/**
 * Whether a removal (received at `receivedAt`, created at `createdAt`) stands against the facts the mapping holds: it
 * was received after they reached us, or created after the event they came from (delivered out of order): an older
 * update applied, or received, after the removal does not cancel it. Each on one clock.
 */
export function removalStands(
  mapping: Pick<UserMappingRecord, 'factsAt' | 'factsEventAt' | 'updatedAt'> | null,
  receivedAt: Date | undefined,
  createdAt: Date | undefined,
): boolean {
  // No mapping at all: nothing newer to cancel a removal.
  if (!mapping) return receivedAt !== undefined || createdAt !== undefined;
  const removedSince = receivedAt !== undefined && receivedAt > (mapping.factsAt ?? mapping.updatedAt);
  const createdSince = createdAt !== undefined && mapping.factsEventAt !== undefined && createdAt > mapping.factsEventAt;
  return removedSince || createdSince;
}

/**
 * Why a sign-in must not stand, from what Talkdesk said while it ran (the callback's marks), or undefined.
 * A removal or an uninstall counts until the workflow applies it: the mapping and the installation's
 * record still say active meanwhile (seconds; hours while the partner's hook or Temporal is down).
 */
export function endedBy(
  marks: EndingMarks,
  o: { began: Date; mapping: UserMappingRecord | null; rec: InstallationRecord; facts: { installationId: string } },
): SsoFailure | undefined {
  // A logout dated after the sign-in began (less the clocks' allowance): its Talkdesk authorization may predate it.
  if (marks.loggedOutAt && marks.loggedOutAt >= o.began)
    return new SsoFailure('signed_out', { ...o.facts, detail: 'user_logout_during_sign_in' });
  if (removalStands(o.mapping, marks.removedAt, marks.removalEventAt))
    return new SsoFailure('not_licensed', { ...o.facts, detail: 'removal_pending' });
  // Uninstalled no earlier than the newest event the record shows applied (Talkdesk's times both, in whole
  // seconds: the same second counts, as an install and its uninstall can share one); a reinstall is newer.
  const applied = o.rec.lastEventAt ? Date.parse(o.rec.lastEventAt) : -Infinity;
  if (marks.uninstalledAt && marks.uninstalledAt.getTime() >= applied)
    return new SsoFailure('installation_inactive', { ...o.facts, detail: 'uninstall_pending' });
  return undefined;
}
