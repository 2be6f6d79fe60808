import assert from 'node:assert/strict';
import type { Collection } from 'mongodb';
import { extractCredentials, parseEvent } from '../../src/events/schemas';
import type { InboxRecord } from '../../src/handover/inbox';
import { COLLECTIONS } from '../../src/store';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * The callback stores an `app.installed`'s credentials copy before its record, without looking the
 * event up first, so a repeated delivery stores the copy again whenever the first one's is gone: the
 * imported (or discarded, or destroyed) secret brought back. It must not stay; and a copy a first
 * delivery racing the repeat still needs must not be deleted (docs/handover.md, "The write set").
 */
describe('inbox: a repeated install delivery and the credentials copy (FerretDB)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => {
    h = await startActivityHarness();
  });
  after(() => h?.close());

  /** A redelivery of `raw`, stored as the callback stores it. */
  async function repeat(raw: unknown) {
    const parsed = parseEvent(JSON.parse(JSON.stringify(raw)));
    assert.ok(parsed.ok);
    const creds = extractCredentials(parsed.event);
    assert.ok(creds, 'an install event brings credentials');
    const rec = await h.store.inbox.get(parsed.event.id);
    assert.ok(rec, 'the first delivery is stored');
    const { dispatchedAt: _d, credentials: _c, ...record } = rec;
    return h.store.inbox.insert(record, sealEventCredentials(h.keyring, record.installationId, creds), { queue: false });
  }

  const copies = () => h.db.collection<{ _id: string }>(COLLECTIONS.eventCredentials);
  const consumed = () => h.db.collection<{ _id: string }>(COLLECTIONS.eventCredentialsConsumed);

  it('after the import: the copy it stored is deleted again; the set stays usable', async () => {
    const { event, installation, clientId } = await h.installing(1);
    assert.equal(await h.store.eventCredentials.get(event.id), undefined, 'the import deleted the copy');
    assert.ok(await consumed().findOne({ _id: event.id }), 'and recorded that it was consumed');
    // A retried import (its answer lost) consumes it again: the record is there already, nothing fails.
    assert.equal(await h.store.eventCredentials.delete(event.id, installation.id), false);
    const outcome = await repeat(event);
    assert.equal(outcome.stored, 'duplicate');
    assert.equal(await h.store.eventCredentials.get(event.id), undefined, 'no copy of the imported secret is kept');
    assert.ok(await h.store.credentials.usable(installation.id, clientId), 'the imported set is untouched');
  });

  it('after a discard (an install its installation ignored, never imported): no copy is kept', async () => {
    const { event } = h.simulator.createInstallation({ licensedUsers: 1 });
    const stored = await h.storeEvent(event);
    assert.deepEqual(await h.run(h.acts.discardEventCredentials, { installationId: stored.installationId, eventId: event.id }), {
      deleted: true,
    });
    assert.equal((await repeat(event)).stored, 'duplicate');
    assert.equal(await copies().findOne({ _id: event.id }), null, 'the discarded secret is not brought back');
  });

  it("after the installation's credentials were destroyed (an uninstall): no copy is kept", async () => {
    const { event } = h.simulator.createInstallation({ licensedUsers: 1 });
    const stored = await h.storeEvent(event);
    const { destroyed } = await h.run(h.acts.destroyCredentials, { installationId: stored.installationId });
    assert.equal(destroyed, 1, 'the copy, never imported, was destroyed');
    assert.equal((await repeat(event)).stored, 'duplicate');
    assert.equal(await copies().findOne({ _id: event.id }), null, 'the destroyed secret is not brought back');
  });

  it('a copy the import has not used yet is kept (a first delivery racing this one stored its record, this one the only copy)', async () => {
    const { event } = h.simulator.createInstallation({ licensedUsers: 1 });
    const stored = await h.storeEvent(event);
    // The other delivery's copy insert was refused by this one's: its record is stored, the copy is this one's.
    await copies().deleteOne({ _id: event.id });
    assert.equal((await repeat(event)).stored, 'duplicate');
    assert.ok(await h.store.eventCredentials.get(event.id), 'the only copy stays for the import');
    const imported = await h.run(h.acts.importCredentials, { installationId: stored.installationId, eventId: event.id, activate: true });
    assert.equal(imported.alreadyImported, undefined, 'imported from the copy');
  });

  it('a copy an older version imported and deleted (no consumption record): the set naming the event deletes it', async () => {
    const { event } = await h.installing(1);
    await consumed().deleteOne({ _id: event.id });
    assert.equal((await repeat(event)).stored, 'duplicate');
    assert.equal(await h.store.eventCredentials.get(event.id), undefined, 'no copy of the imported secret is kept');
  });

  it('a record an older version wrote with its own copy: the copy a repeat stored apart is deleted again', async () => {
    const { event } = h.simulator.createInstallation({ licensedUsers: 1 });
    await h.storeEvent(event);
    const copy = await copies().findOne({ _id: event.id });
    assert.ok(copy, 'stored apart by this version');
    // As an older version stored it: the blob in the inbox record, none apart.
    const inbox = h.db.collection<InboxRecord>(COLLECTIONS.inbox) as Collection<InboxRecord>;
    await inbox.updateOne({ _id: event.id }, { $set: { credentials: (copy as unknown as { secret: InboxRecord['credentials'] }).secret } });
    await copies().deleteOne({ _id: event.id });
    assert.equal((await repeat(event)).stored, 'duplicate');
    assert.equal(await copies().findOne({ _id: event.id }), null, "one copy only: the record's");
    assert.deepEqual((await h.store.eventCredentials.get(event.id))?.inInbox, true, 'read from the record');
  });
});
