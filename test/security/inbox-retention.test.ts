import assert from 'node:assert/strict';
import { toLifecycleEvent, parseEvent } from '../../src/events/schemas';
import type { EventType, InstallationPhase } from '../../workflows/definitions';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { InboxRetention, DAY_MS } from '../../src/store/inbox-retention';
import { LogoutEventStore } from '../../src/store/logout-events';
import { signHubSignature } from '../../src/web/signature';
import { WEBHOOK_SECRET } from '../support/system';
import { connectDatabase, createStore } from '../../src/store';
import { mongoUri, uniqueDbName } from '../support/servers';
import { eventually } from '../support/waits';
import { legacyBlob } from '../support/legacy-secrets';
import { COLLECTIONS } from '../../src/store/db';
import { JSON_HEADERS, freshEvent, send, startLightWeb, type LightWeb, useLightWeb } from './support';

/**
 * INBOX_RETENTION_DAYS: handled events older than the window are pruned by a
 * sweeper (the embedded FerretDB has no TTL index), events still waiting for
 * Temporal are kept, and a replay of a pruned event is still refused because
 * the callback refuses anything older than the window (event_too_old).
 */

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function storeEvent(web: Pick<LightWeb, 'store'>, ageDays: number, dispatched: boolean, type: EventType = 'app.uninstalled') {
  const event = freshEvent(type);
  const createdAt = isoSeconds(Date.now() - ageDays * DAY_MS);
  event.created_at = createdAt;
  const parsed = parseEvent(event);
  assert.ok(parsed.ok);
  const lifecycle = toLifecycleEvent(parsed.event);
  await web.store.inbox.insert({
    _id: event.id,
    installationId: lifecycle.installationId,
    type: parsed.event.type,
    createdAt: new Date(createdAt),
    receivedAt: new Date(createdAt),
    event: lifecycle,
  });
  if (dispatched) await web.store.inbox.markDispatched(event.id);
  return event;
}

const SECRETS = { clientId: 'c1', clientSecret: 'not-a-real-secret', privateKey: '', publicKey: '' };

describe('security: inbox retention', function () {
  this.timeout(60_000);
  let web: LightWeb;
  const recordPhase = (installationId: string, phase: InstallationPhase, handledEventIds: string[] = []) =>
    web.store.installations.record(installationId, { workflowId: `installation-${installationId}`, appId: 'app', phase, handledEventIds });
  // The server's own sweeper runs rarely here: the first tests drive sweeps by hand.
  useLightWeb((w) => (web = w), { inboxRetentionDays: 30, inboxSweepIntervalMs: 3_600_000 });

  it('prunes handed-over events older than the window and keeps the rest', async () => {
    const oldHandled = await storeEvent(web, 40, true);
    const oldWaiting = await storeEvent(web, 40, false);
    const recentHandled = await storeEvent(web, 20, true);
    // No count asserted: the server's own first sweep (at start) can run beside this one and take the event.
    await new InboxRetention(web.db, 30).sweep();
    assert.equal(await web.store.inbox.get(oldHandled.id), null, 'old handled event pruned');
    assert.ok(await web.store.inbox.get(oldWaiting.id), 'an event not yet handed over is kept');
    assert.ok(await web.store.inbox.get(recentHandled.id), 'a recent event is kept');
  });

  it("prunes handled user.logout records (with the user's e-mail) older than the window; keeps recent or unhandled ones", async () => {
    const logouts = new LogoutEventStore(web.db);
    const store = async (ageDays: number, handled: boolean) => {
      const id = `logout-${ageDays}-${handled}-${Date.now()}`;
      const at = new Date(Date.now() - ageDays * DAY_MS);
      await logouts.insert({
        _id: id,
        installationId: 'inst-logout',
        type: 'user.logout',
        createdAt: at,
        receivedAt: at,
        logout: { accountId: 'acct', talkdeskUserId: 'u1', email: 'agent@example.com' },
      });
      if (handled) await logouts.markHandled(id, 1);
      return id;
    };
    const [old, oldUnhandled, recent] = [await store(40, true), await store(40, false), await store(20, true)];
    await new InboxRetention(web.db, 30).sweep();
    assert.equal(await logouts.get(old), null, 'old handled logout pruned');
    assert.ok(await logouts.get(oldUnhandled), 'an unhandled logout is kept');
    assert.ok(await logouts.get(recent), 'a recent logout is kept');
  });

  it("deletes a pruned event's credentials copy never imported (a late install ignored after its uninstall); keeps the others", async () => {
    const sealed = (installationId: string) => sealEventCredentials(web.keyring, installationId, SECRETS);
    const oldInstall = await storeEvent(web, 40, true, 'app.installed');
    const waitingInstall = await storeEvent(web, 40, false, 'app.installed');
    const recentInstall = await storeEvent(web, 20, true, 'app.installed');
    for (const e of [oldInstall, waitingInstall, recentInstall]) {
      const installationId = String(e.data.installation_id);
      const owner = { eventId: e.id, installationId, createdAt: new Date(), storedAt: new Date() };
      await web.store.eventCredentials.put(owner, sealed(installationId));
    }
    // Its installation is over (the run of its own recorded the final phase).
    await recordPhase(String(oldInstall.data.installation_id), 'uninstalled');
    const result = await new InboxRetention(web.db, 30).sweep();
    assert.ok(result.credentials >= 1, JSON.stringify(result));
    assert.equal(await web.store.eventCredentials.get(oldInstall.id), undefined, 'the pruned event takes its copy with it');
    assert.equal(await web.store.inbox.get(oldInstall.id), null);
    assert.ok(await web.store.eventCredentials.get(waitingInstall.id), 'an event not yet handed over keeps its copy');
    assert.ok(await web.store.eventCredentials.get(recentInstall.id), 'a recent event keeps its copy');
  });

  it('keeps an old handed-over copy its installation has not imported (a stalled workflow) until the installation is done with it', async () => {
    const rotation = await storeEvent(web, 40, true, 'app.credentials_rotated');
    const orphanInstall = await storeEvent(web, 40, true, 'app.installed'); // its workflow never wrote a record
    const installationId = String(rotation.data.installation_id);
    for (const e of [rotation, orphanInstall]) {
      const owner = { eventId: e.id, installationId: String(e.data.installation_id), createdAt: new Date(), storedAt: new Date() };
      await web.store.eventCredentials.put(owner, sealEventCredentials(web.keyring, owner.installationId, SECRETS));
    }
    await recordPhase(installationId, 'active', ['another-event']);
    const first = await new InboxRetention(web.db, 30).sweep();
    assert.ok(first.kept.includes(rotation.id) && first.kept.includes(orphanInstall.id), JSON.stringify(first));
    for (const e of [rotation, orphanInstall]) {
      assert.ok(await web.store.eventCredentials.get(e.id), 'the only copy is kept');
      assert.ok(await web.store.inbox.get(e.id), 'and the record that names it');
    }
    // The workflow handled it (imported, or decided it was not needed): both go.
    await recordPhase(installationId, 'active', ['another-event', rotation.id]);
    const second = await new InboxRetention(web.db, 30).sweep();
    assert.ok(!second.kept.includes(rotation.id), JSON.stringify(second));
    assert.equal(await web.store.eventCredentials.get(rotation.id), undefined);
    assert.equal(await web.store.inbox.get(rotation.id), null);
    assert.ok(await web.store.eventCredentials.get(orphanInstall.id), 'no record says it was handled: kept');
  });

  it('keeps an old handed-over event whose only copy an older version kept in the inbox record itself, until it is handled', async () => {
    const rotation = await storeEvent(web, 40, false, 'app.credentials_rotated');
    const installationId = String(rotation.data.installation_id);
    // As an older version stored it (the copy inside the record), handed over after the upgrade's move at start.
    const blob = legacyBlob(web.keyring, web.keyring.currentKid, SECRETS, installationId);
    await web.db.collection(COLLECTIONS.inbox).updateOne({ _id: rotation.id as never }, { $set: { credentials: blob } });
    await web.store.inbox.markDispatched(rotation.id);
    await recordPhase(installationId, 'active', ['another-event']);
    const first = await new InboxRetention(web.db, 30).sweep();
    assert.ok(first.kept.includes(rotation.id), JSON.stringify(first));
    assert.ok(await web.store.inbox.get(rotation.id), 'the record, the only copy, is kept');
    await recordPhase(installationId, 'active', ['another-event', rotation.id]);
    const second = await new InboxRetention(web.db, 30).sweep();
    assert.ok(!second.kept.includes(rotation.id), JSON.stringify(second));
    assert.equal(await web.store.inbox.get(rotation.id), null, 'handled: pruned');
  });

  it("keeps a same-id reinstall's install copy while the record still shows the earlier life's end (its run stalled); not once an end since is recorded", async () => {
    const reinstall = await storeEvent(web, 40, true, 'app.installed');
    const installationId = String(reinstall.data.installation_id);
    const owner = { eventId: reinstall.id, installationId, createdAt: new Date(), storedAt: new Date() };
    await web.store.eventCredentials.put(owner, sealEventCredentials(web.keyring, installationId, SECRETS));
    const daysAgo = (d: number) => new Date(Date.now() - d * DAY_MS).toISOString();
    const ended = (lastEventAt: string) =>
      web.store.installations.record(installationId, {
        workflowId: `installation-${installationId}`,
        appId: 'app',
        phase: 'uninstalled',
        lastEventAt,
      });
    // The earlier life's uninstall, before the reinstall's event: the reinstall is not done with its copy.
    await ended(daysAgo(50));
    const first = await new InboxRetention(web.db, 30).sweep();
    assert.ok(first.kept.includes(reinstall.id), JSON.stringify(first));
    assert.ok(await web.store.eventCredentials.get(reinstall.id), "the reinstall's only credentials are kept");
    // Uninstalled again since (an event after it applied): done with it.
    await ended(daysAgo(35));
    const second = await new InboxRetention(web.db, 30).sweep();
    assert.ok(!second.kept.includes(reinstall.id), JSON.stringify(second));
    assert.equal(await web.store.eventCredentials.get(reinstall.id), undefined);
  });

  it('does not keep the copy of a rotation for an installation never installed here, nor any copy past three windows', async () => {
    const neverInstalled = await storeEvent(web, 40, true, 'app.credentials_rotated'); // no installation record
    const longStalled = await storeEvent(web, 91, true, 'app.installed'); // no record either: a stall of three windows
    for (const e of [neverInstalled, longStalled]) {
      const owner = { eventId: e.id, installationId: String(e.data.installation_id), createdAt: new Date(), storedAt: new Date() };
      await web.store.eventCredentials.put(owner, sealEventCredentials(web.keyring, owner.installationId, SECRETS));
    }
    const result = await new InboxRetention(web.db, 30).sweep();
    assert.ok(!result.kept.includes(neverInstalled.id) && !result.kept.includes(longStalled.id), JSON.stringify(result));
    assert.ok(result.gaveUp.includes(longStalled.id), 'reported: the web process logs it as an error');
    assert.ok(!result.gaveUp.includes(neverInstalled.id), 'nothing to rotate: not a loss');
    for (const e of [neverInstalled, longStalled]) {
      assert.equal(await web.store.eventCredentials.get(e.id), undefined);
      assert.equal(await web.store.inbox.get(e.id), null);
    }
  });

  it('deletes an old credentials copy whose inbox record was never stored; keeps a recent one, and an old one whose event waits', async () => {
    const sealed = sealEventCredentials(web.keyring, 'inst-orphan', SECRETS);
    const daysAgo = (d: number) => new Date(Date.now() - d * DAY_MS);
    const copy = (eventId: string, storedDaysAgo: number) =>
      web.store.eventCredentials.put(
        { eventId, installationId: 'inst-orphan', createdAt: daysAgo(storedDaysAgo), storedAt: daysAgo(storedDaysAgo) },
        sealed,
      );
    // The callback stores the copy first: these records' inserts failed, and no redelivery came.
    const [oldOrphan, recentOrphan] = [`orphan-old-${Date.now()}`, `orphan-recent-${Date.now()}`];
    await copy(oldOrphan, 40);
    await copy(recentOrphan, 2);
    const waiting = await storeEvent(web, 40, false, 'app.installed'); // stored, never handed over (Temporal down)
    await copy(waiting.id, 40);
    const result = await new InboxRetention(web.db, 30).sweep();
    assert.ok(result.credentials >= 1, JSON.stringify(result));
    assert.equal(await web.store.eventCredentials.get(oldOrphan), undefined, 'no record will ever import it');
    assert.ok(await web.store.eventCredentials.get(recentOrphan), 'a redelivery may still come');
    assert.ok(await web.store.eventCredentials.get(waiting.id), 'its record still waits for Temporal');
  });

  it('refuses a replay of a pruned event (event_too_old), so it is not handled twice', async () => {
    const event = await storeEvent(web, 31, true);
    await new InboxRetention(web.db, 30).sweep();
    assert.equal(await web.store.inbox.get(event.id), null);
    const raw = JSON.stringify(event);
    const answer = await send(web.web.url, raw, {
      headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) },
    });
    assert.equal(answer.status, 400, answer.text);
    assert.equal(answer.json?.error?.code, 'event_too_old');
    assert.equal(await web.store.inbox.get(event.id), null, 'not stored again');
  });

  it('a retention raised later does not reopen what a shorter one pruned: a replay older than that is still refused', async () => {
    const dbName = uniqueDbName('sec-raised');
    const db = await connectDatabase(await mongoUri(), dbName);
    const event = await storeEvent({ store: createStore(db, web.keyring) }, 15, true);
    await new InboxRetention(db, 10).sweep();
    const raised = await startLightWeb({ inboxRetentionDays: 20, inboxSweepIntervalMs: 3_600_000 }, { dbName });
    try {
      assert.equal(await raised.store.inbox.get(event.id), null, 'pruned under the 10-day window');
      const raw = JSON.stringify(event);
      const answer = await send(raised.web.url, raw, {
        headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) },
      });
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.json?.error?.code, 'event_too_old');
      assert.match(answer.json?.error?.message ?? '', /already pruned from the inbox/);
      assert.equal(await raised.store.inbox.get(event.id), null, 'not stored again');
      // A newer event, within both windows, is taken as ever.
      const recent = freshEvent();
      const fresh = JSON.stringify(recent);
      const taken = await send(raised.web.url, fresh, {
        headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(fresh), WEBHOOK_SECRET) },
      });
      assert.ok([200, 202].includes(taken.status), taken.text);
    } finally {
      await raised.close();
      await db.db.dropDatabase().catch(() => undefined);
      await db.close();
    }
  });

  it('is swept by the web server itself at start (the next sweep an hour away)', async () => {
    const dbName = uniqueDbName('sec-start');
    const db = await connectDatabase(await mongoUri(), dbName);
    const event = await storeEvent({ store: createStore(db, web.keyring) }, 12, true);
    const second = await startLightWeb({ inboxRetentionDays: 10, inboxSweepIntervalMs: 3_600_000 }, { dbName });
    try {
      await eventually(
        'the start sweep to prune the old event',
        async () => ((await second.store.inbox.get(event.id)) === null ? true : undefined),
        10_000,
      );
    } finally {
      await second.close();
      await db.db.dropDatabase().catch(() => undefined);
      await db.close();
    }
  });

  it('is swept by the web server itself periodically', async () => {
    const second = await startLightWeb({ inboxRetentionDays: 10, inboxSweepIntervalMs: 300 });
    try {
      // A sweep has run and ended its delete (the start sweep, or a periodic one): what is stored after it needs another.
      const sentinel = await storeEvent(second, 12, true);
      await eventually(
        'a first sweep to prune the sentinel',
        async () => ((await second.store.inbox.get(sentinel.id)) === null ? true : undefined),
        10_000,
      );
      const event = await storeEvent(second, 12, true);
      const kept = await storeEvent(second, 9, true);
      await eventually(
        'the sweeper to prune the old event',
        async () => ((await second.store.inbox.get(event.id)) === null ? true : undefined),
        10_000,
      );
      assert.ok(await second.store.inbox.get(kept.id));
    } finally {
      await second.close();
    }
  });
});
