import type { InboxRecord } from '../src/handover';
import type { InstallationRecord } from '../src/store/installations';
import type { EventType, InstallationPhase } from '../workflows/definitions';

// What reconciliation hands over when it resumes a lost installation workflow (reconciliation.ts `resume`).

/** The event that opens each phase owning a Talkdesk operation: what resuming it hands over. */
export const PHASE_EVENT_TYPES: Partial<Record<InstallationPhase, EventType>> = {
  installing: 'app.installed',
  updating: 'app.updated',
  uninstalling: 'app.uninstalled',
};

/**
 * Stored rotations the record shows neither handled nor superseded: not in its last handled ids, and
 * not older than the newest event applied (`lastEventAt`; the same second counts: Talkdesk's times
 * have one-second resolution), so an older one that fell out of the handled ids is not applied again.
 * Rotations only: a rotation records the installation when it ends, a trial event does not, so an
 * applied trial would look unhandled. Oldest first, as stored.
 */
export function unhandledRotations(rec: InstallationRecord, events: InboxRecord[]): InboxRecord[] {
  const since = rec.lastEventAt ? Date.parse(rec.lastEventAt) : -Infinity;
  return events.filter(
    (e) =>
      e.type === 'app.credentials_rotated' &&
      !rec.handledEventIds?.includes(e._id) &&
      Date.parse(e.event.createdAt) >= since &&
      // Already switched to (a rotation that fell out of the handled ids, in the second of the newest applied).
      (e.event.facts as { client_id?: unknown }).client_id !== rec.activeClientId,
  );
}
