import assert from 'node:assert/strict';
import { COLLECTIONS, type Database } from '../../src/store';
import { NotDurableYetError } from '../../src/store/db';
import { InboxStore, type InboxRecord } from '../../src/handover/inbox';
import { EventCredentialStore } from '../../src/store/event-credentials';
import { inboxRecord, useInboxStores } from '../support/inbox-records';

/**
 * An event's copy of its credentials (src/store/event-credentials.ts): found by an import while a starting worker moves
 * an older version's copies out of the inbox (`get`, `moveLegacyCredentials`), and trusted by a repeated delivery only
 * once a majority holds it (`put`).
 */
describe('event credentials: copies moved and repeated (FerretDB)', () => {
  let db: Database;
  let inbox: InboxStore;
  let eventCredentials: EventCredentialStore;
  const blob = { v: 1 as const, kid: 'k', iv: 'aXY=', tag: 'dGFn', ct: 'Y3Q=' };

  useInboxStores('event-copies', (stores) => ({ db, inbox, eventCredentials } = stores));

  it('the move lands between its two reads (missed in event_credentials, then stripped from the inbox): still found', async () => {
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

  const owner = { eventId: 'evt-repeat', installationId: 'inst-repeat', createdAt: new Date(), storedAt: new Date() };
  const sealed = { clientId: 'c', secret: blob };

  it('reads the copy it collided with at majority: found, a repeat; not there (on the old primary alone), 503 not yet durable', async () => {
    assert.equal(await eventCredentials.put(owner, sealed), 'stored');
    const coll = (eventCredentials as unknown as { coll: { findOne: (...a: unknown[]) => Promise<unknown> } }).coll;
    const findOne = coll.findOne.bind(coll);
    const reads: unknown[] = [];
    coll.findOne = async (...a: unknown[]) => (reads.push(a[1]), findOne(...a));
    assert.equal(await eventCredentials.put(owner, sealed), 'repeat');
    assert.deepEqual((reads[0] as { readConcern?: unknown }).readConcern, { level: 'majority' }, 'read at majority');
    // As a majority read answers when only the primary a failover rolls back holds it: nothing.
    coll.findOne = async () => null;
    await assert.rejects(eventCredentials.put(owner, sealed), NotDurableYetError);
  });

  it('another body under an id whose record a racing delivery wrote first (no copy of its own): refused, and the copy it stored deleted', async () => {
    // The first delivery: an update under the id, its record written after this delivery's lookup found nothing.
    const first = inboxRecord('app.updated');
    const coll = (inbox as unknown as { coll: { findOne: (...a: unknown[]) => Promise<unknown> } }).coll;
    const findOne = coll.findOne.bind(coll);
    coll.findOne = async () => {
      coll.findOne = findOne; // the lookup only
      await inbox.insert(first, undefined, { queue: false });
      return null;
    };
    const r = inboxRecord('app.installed');
    const other = { ...r, _id: first._id, event: { ...r.event, eventId: first._id, facts: { client_id: 'c2' } } as InboxRecord['event'] };
    const outcome = await inbox.insert(other, { clientId: 'c2', secret: blob }, { queue: false });
    assert.equal(outcome.stored, 'duplicate');
    assert.equal(outcome.conflict, true, 'refused (409 at the callback)');
    assert.equal(await eventCredentials.get(first._id), undefined, "the refused body's secret is not kept until the sweep");
    assert.equal((await inbox.get(first._id))?.installationId, first.installationId, 'the stored event kept');
  });

  /** Two credentials bodies under one id, one installation, client and time: only their type differs. */
  function twoBodies() {
    const installed = inboxRecord('app.installed', new Date(), { client_id: 'c3' });
    const rotated = {
      ...installed,
      type: 'app.credentials_rotated' as const,
      event: { ...installed.event, type: 'app.credentials_rotated' as const },
    };
    return { installed, rotated, sealed: { clientId: 'c3', secret: blob } };
  }

  it("another body refused after the stored event took its copy for a repeat's (same installation and client): the copy kept", async () => {
    const { installed, rotated, sealed } = twoBodies();
    // The rotation's delivery stored its copy; before its record, the install's delivery took that copy (a repeat's,
    // same installation, client, time and key) and wrote its record, answered 200.
    const target = inbox as unknown as { insertRecord(r: unknown): Promise<boolean> };
    const insertRecord = target.insertRecord.bind(inbox);
    target.insertRecord = async (r: unknown) => {
      target.insertRecord = insertRecord;
      const accepted = await inbox.insert(installed, sealed, { queue: false });
      assert.equal(accepted.stored, 'stored', 'the install accepted on the copy the rotation stored');
      return insertRecord(r);
    };
    const refused = await inbox.insert(rotated, sealed, { queue: false });
    assert.ok(refused.stored === 'duplicate' && refused.conflict, 'the rotation refused (409)');
    assert.ok(await eventCredentials.get(installed._id), "the accepted install's only copy of its credentials kept");
  });

  it('a refused body whose copy an earlier delivery (answered 503) stored: the copy deleted at its redelivery', async () => {
    const { installed, sealed } = twoBodies();
    // The install's first delivery stored its copy, then its record failed (503).
    assert.equal(
      await eventCredentials.put(
        { eventId: installed._id, installationId: installed.installationId, createdAt: installed.createdAt, storedAt: new Date() },
        sealed,
      ),
      'stored',
    );
    // Another event under the id, of another installation, accepted meanwhile.
    const other = inboxRecord('app.updated');
    await inbox.insert({ ...other, _id: installed._id, event: { ...other.event, eventId: installed._id } }, undefined, { queue: false });
    const redelivered = await inbox.insert(installed, sealed, { queue: false });
    assert.ok(redelivered.stored === 'duplicate' && redelivered.conflict, 'refused (409)');
    assert.equal(await eventCredentials.get(installed._id), undefined, "the refused body's secret is not kept until the sweep");
  });
});
