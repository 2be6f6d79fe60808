import { randomBytes } from 'node:crypto';
import { InboxStore, type InboxRecord } from '../../src/handover/inbox';
import { connectDatabase, type Database } from '../../src/store';
import { EventCredentialStore } from '../../src/store/event-credentials';
import { mongoUri, uniqueDbName } from './servers';
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

/** The stores of the inbox on a database of its own (FerretDB), made before each test and dropped after it. */
export interface InboxStores {
  db: Database;
  inbox: InboxStore;
  eventCredentials: EventCredentialStore;
}

/** Mocha hooks giving each test fresh inbox stores on a database named after `name`, handed to `use`. */
export function useInboxStores(name: string, use: (stores: InboxStores) => void): void {
  let db: Database | undefined;
  beforeEach(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName(name));
    const eventCredentials = new EventCredentialStore(db);
    const inbox = new InboxStore(db, eventCredentials);
    await inbox.ensureIndexes();
    use({ db, inbox, eventCredentials });
  });
  afterEach(async () => {
    await db?.db.dropDatabase();
    await db?.close();
  });
}
