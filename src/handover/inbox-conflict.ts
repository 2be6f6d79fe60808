import { isDeepStrictEqual } from 'node:util';
import type { LifecycleEvent } from '../../workflows/definitions';
import type { InboxRecord } from './inbox';

/* A repeated event id: a redelivery of the stored event, or another event under its id (409 event_id_conflict). */

// A record without a lifecycle event (a user.logout's, stored in the same collection) has no client.
const clientOf = (e: LifecycleEvent | undefined): unknown => (e?.facts as { client_id?: unknown } | undefined)?.client_id;
/**
 * Facts both name that differ (users added or removed, a subscription, a rotation's `compromised`): answered as a
 * repeat, the second body would be dropped unseen. Only those both name: a fact a newer version adds is no conflict
 * with a record an older one stored.
 */
const factsDiffer = (a: object, b: object): boolean =>
  Object.entries(a).some(([k, v]) => k in b && !isDeepStrictEqual(v, (b as Record<string, unknown>)[k]));
/** Not a redelivery: another installation, type, time, client (a credentials event's: its secret comes with it) or facts. */
export const conflicting = (a: InboxRecord, b: Pick<InboxRecord, 'installationId' | 'type' | 'event'>): boolean =>
  a.installationId !== b.installationId ||
  a.type !== b.type ||
  a.event === undefined ||
  Date.parse(a.event.createdAt) !== Date.parse(b.event.createdAt) ||
  clientOf(a.event) !== clientOf(b.event) ||
  factsDiffer(a.event.facts, b.event.facts);

/**
 * The event's credentials copy of `installationId` and `clientId` is the stored event's own: it is a credentials event
 * of that installation and client (the copy's put took a copy of the same installation, client, time and key for it).
 */
export const copyServes = (stored: InboxRecord, installationId: string, clientId: string): boolean =>
  stored.installationId === installationId && stored.event !== undefined && clientOf(stored.event) === clientId;
