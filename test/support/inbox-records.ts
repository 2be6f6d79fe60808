import { randomBytes } from 'node:crypto';
import type { InboxRecord } from '../../src/handover/inbox';
import type { EventType } from '../../workflows/definitions';

/** A secret-free stored event of a new installation, as the callback writes it (random ids). */
export function inboxRecord(
  type: EventType,
  createdAt = new Date(),
  facts: Record<string, unknown> = {},
): Omit<InboxRecord, 'dispatchedAt' | 'credentials'> {
  const id = randomBytes(16).toString('hex');
  const installationId = randomBytes(16).toString('hex');
  return {
    _id: id,
    installationId,
    type,
    createdAt,
    receivedAt: new Date(),
    event: { eventId: id, type, createdAt: createdAt.toISOString(), appId: 'app', installationId, facts, links: {} },
  };
}
