import assert from 'node:assert/strict';
import { COLLECTIONS, connectDatabase, type Database } from '../../src/store';
import { InboxStore, type InboxRecord } from '../../src/handover/inbox';
import { EventCredentialStore } from '../../src/store/event-credentials';
import { inboxRecord } from '../support/inbox-records';
import { mongoUri, uniqueDbName } from '../support/servers';

/**
 * An import reading an event's copy while a starting worker moves an older version's copies out of the inbox
 * (src/store/event-credentials.ts `get`, src/handover/inbox.ts `moveLegacyCredentials`): found wherever it is.
 */
describe('event credentials: a copy moved out of the inbox while an import reads it (FerretDB)', () => {
  let db: Database;
  let inbox: InboxStore;
  let eventCredentials: EventCredentialStore;

  beforeEach(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('legacy-move'));
    eventCredentials = new EventCredentialStore(db);
    inbox = new InboxStore(db, eventCredentials);
    await inbox.ensureIndexes();
  });
  afterEach(async () => {
    await db.db.dropDatabase();
    await db.close();
  });

  it('the move lands between its two reads (missed in event_credentials, then stripped from the inbox): still found', async () => {
    const blob = { v: 1 as const, kid: 'k', iv: 'aXY=', tag: 'dGFn', ct: 'Y3Q=' };
    const r = inboxRecord('app.installed', new Date());
    const record = {
      ...r,
      event: { ...r.event, facts: { client_id: 'c' } } as InboxRecord['event'],
      credentials: blob,
      dispatchedAt: new Date(),
    };
    await db.collection<InboxRecord>(COLLECTIONS.inbox).insertOne(record);
    // The inbox read of `get` waits for the whole move: the copy is in event_credentials by then, the inbox stripped.
    const legacyInbox = (eventCredentials as unknown as { inbox: { findOne: (...a: unknown[]) => Promise<unknown> } }).inbox;
    const findOne = legacyInbox.findOne.bind(legacyInbox);
    let moved = 0;
    legacyInbox.findOne = async (...a: unknown[]) => {
      legacyInbox.findOne = findOne;
      moved = await inbox.moveLegacyCredentials();
      return findOne(...a);
    };
    const found = await eventCredentials.get(record._id);
    assert.equal(moved, 1, 'the move ran between the reads');
    assert.equal((await inbox.get(record._id))?.credentials, undefined, 'stripped from the inbox');
    assert.deepEqual(found, { secret: blob, inInbox: false }, 'read where it went');
  });
});
