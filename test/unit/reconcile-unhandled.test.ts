import assert from 'node:assert/strict';
import { unhandledEvents } from '../../activities/reconcile-resume';
import type { InboxRecord } from '../../src/handover/inbox';
import type { InstallationRecord } from '../../src/store/installations';
import type { EventType } from '../../workflows/definitions';
import { inboxRecord } from '../support/inbox-records';

const t0 = Date.parse('2026-12-01T10:00:00Z');
const at = (minutes: number) => new Date(t0 + minutes * 60_000);
const iso = (minutes: number) => at(minutes).toISOString();
const stored = (type: EventType, minutes: number, facts: Record<string, unknown> = {}) =>
  inboxRecord(type, at(minutes), facts) as InboxRecord;
const record = (fields: Partial<InstallationRecord>) => ({ _id: 'inst-1', phase: 'updating', ...fields }) as InstallationRecord;

/** What reconciliation hands over to a lost installation workflow (activities/reconcile-resume.ts). */
describe('reconciliation: the stored events a lost run left unhandled', () => {
  it('a rotation queued behind a newer update under way is handed over, though older than the update', () => {
    const install = stored('app.installed', 0);
    const rotation = stored('app.credentials_rotated', 10, { client_id: 'c1' });
    const update = stored('app.updated', 11);
    const rec = record({
      lastEventAt: iso(11), // the update's phase began: recorded with its time
      installEventAt: iso(0),
      handledEventIds: [install._id],
      activeClientId: 'c0',
    });
    assert.deepEqual(
      unhandledEvents(rec, [install, rotation, update]).map((e) => e._id),
      [rotation._id, update._id],
    );
  });

  it('not one older than a newer rotation applied, nor one older than the newest rotation applied, nor an earlier life', () => {
    const earlierLife = stored('app.credentials_rotated', -5, { client_id: 'c-old' });
    const install = stored('app.installed', 0);
    const older = stored('app.credentials_rotated', 8, { client_id: 'c1' });
    const applied = stored('app.credentials_rotated', 9, { client_id: 'c2' });
    const update = stored('app.updated', 11);
    const base = { lastEventAt: iso(11), installEventAt: iso(0), activeClientId: 'c2' };
    // The newer rotation handled (in the handled ids), or switched to (fallen out of them).
    for (const rec of [
      record({ ...base, handledEventIds: [install._id, applied._id] }),
      record({ ...base, handledEventIds: [install._id] }),
    ])
      assert.deepEqual(
        unhandledEvents(rec, [earlierLife, install, older, applied, update]).map((e) => e._id),
        [update._id],
        JSON.stringify(rec),
      );
    // Or only recorded as the newest applied (`rotationEventAt`), its stored event gone (retention).
    const rec = record({ ...base, rotationEventAt: iso(9), handledEventIds: [install._id] });
    assert.deepEqual(
      unhandledEvents(rec, [earlierLife, install, older, update]).map((e) => e._id),
      [update._id],
    );
  });

  it("after a same-id reinstall, an earlier life's rotation (older than the install, newer than the rotation it applied) is not handed over", () => {
    const earlierApplied = stored('app.credentials_rotated', -20, { client_id: 'c-a' });
    const earlierLost = stored('app.credentials_rotated', -10, { client_id: 'c-b' });
    const reinstall = stored('app.installed', 0);
    const update = stored('app.updated', 11);
    // `rotationEventAt` kept from the earlier life; the reinstall applied none.
    const rec = record({
      lastEventAt: iso(11),
      installEventAt: iso(0),
      rotationEventAt: iso(-20),
      handledEventIds: [reinstall._id],
      activeClientId: 'c-new',
    });
    assert.deepEqual(
      unhandledEvents(rec, [earlierApplied, earlierLost, reinstall, update]).map((e) => e._id),
      [update._id],
    );
  });

  it('after the uninstall nothing older than it is handed over, rotations included', () => {
    const rotation = stored('app.credentials_rotated', 10, { client_id: 'c1' });
    const uninstall = stored('app.uninstalled', 11);
    const rec = record({ phase: 'uninstalled', lastEventAt: iso(11), installEventAt: iso(0), handledEventIds: [uninstall._id] });
    assert.deepEqual(unhandledEvents(rec, [rotation, uninstall]), []);
  });

  it('an update older than the newest applied is not handed over again (unchanged)', () => {
    const update = stored('app.updated', 5);
    const rec = record({ phase: 'active', lastEventAt: iso(11), installEventAt: iso(0), handledEventIds: [] });
    assert.deepEqual(unhandledEvents(rec, [update]), []);
  });
});
