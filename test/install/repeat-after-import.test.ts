import assert from 'node:assert/strict';
import type { Collection } from 'mongodb';
import { extractCredentials, parseEvent } from '../../src/events/schemas';
import type { InboxRecord } from '../../src/handover/inbox';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * A repeated delivery of an `app.installed` whose lookup ran before the first delivery's record was
 * written (both in flight at once) stores the credentials copy too. When the first one's copy was
 * imported and deleted in between, that second copy is the secret brought back: it must not stay.
 */
describe('inbox: a repeat racing the first delivery of an install (FerretDB)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => {
    h = await startActivityHarness();
  });
  after(() => h?.close());

  /** The repeat as the callback stores it, its lookup answered as it was before the first record existed. */
  async function racingRepeat(raw: unknown, record: Omit<InboxRecord, 'dispatchedAt' | 'credentials'>) {
    const parsed = parseEvent(JSON.parse(JSON.stringify(raw)));
    assert.ok(parsed.ok);
    const creds = extractCredentials(parsed.event);
    assert.ok(creds, 'an install event brings credentials');
    // The inbox's collection, reached past `private`: the one lookup answered "not stored yet".
    const coll = (h.store.inbox as unknown as { coll: Collection<InboxRecord> }).coll;
    const findOne = coll.findOne.bind(coll);
    let first = true;
    coll.findOne = ((...args: Parameters<typeof findOne>) => {
      if (!first) return findOne(...args);
      first = false;
      return Promise.resolve(null);
    }) as typeof coll.findOne;
    try {
      return await h.store.inbox.insert(record, sealEventCredentials(h.keyring, record.installationId, creds), { queue: false });
    } finally {
      coll.findOne = findOne;
      assert.equal(first, false, 'the stub answered the lookup');
    }
  }

  const recordOf = async (eventId: string) => {
    const rec = await h.store.inbox.get(eventId);
    assert.ok(rec);
    const { dispatchedAt: _d, credentials: _c, ...record } = rec;
    return record;
  };

  it('the copy it stored after the import deleted the first one is deleted again; the set stays usable', async () => {
    const { event, installation, clientId } = await h.installing(1);
    assert.equal(await h.store.eventCredentials.get(event.id), undefined, 'the import deleted the copy');
    const outcome = await racingRepeat(event, await recordOf(event.id));
    assert.equal(outcome.stored, 'duplicate');
    assert.equal(await h.store.eventCredentials.get(event.id), undefined, 'no copy of the imported secret is kept');
    assert.ok(await h.store.credentials.usable(installation.id, clientId), 'the imported set is untouched');
  });

  it('a copy the import has not used yet is kept (the first delivery stored its record, the repeat the only copy)', async () => {
    const { event } = h.simulator.createInstallation({ licensedUsers: 1 });
    // The first delivery's copy was the repeat's (its own insert of the copy found it there): stored without one here.
    const stored = await h.storeEvent(event);
    await h.store.eventCredentials.delete(event.id);
    const outcome = await racingRepeat(event, await recordOf(event.id));
    assert.equal(outcome.stored, 'duplicate');
    assert.ok(await h.store.eventCredentials.get(event.id), 'the only copy stays for the import');
    const imported = await h.run(h.acts.importCredentials, { installationId: stored.installationId, eventId: event.id, activate: true });
    assert.equal(imported.alreadyImported, undefined, 'imported from the copy');
  });
});
