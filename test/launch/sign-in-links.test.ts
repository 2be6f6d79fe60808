import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { generateKeySpec, parseKeyring } from '../../src/crypto/secrets';
import { exampleEvent } from '../../src/events/examples';
import { extractCredentials, parseEvent, toLifecycleEvent } from '../../src/events/schemas';
import { createLogger } from '../../src/logging/logger';
import { connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { SsoLinksStore } from '../../src/store/sso-links';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { EventType } from '../../workflows/definitions';
import { mongoUri, uniqueDbName } from '../support/servers';

const hex = () => randomBytes(16).toString('hex');

/**
 * The sign-in links of an install or rotation travel in the lifecycle event and are saved
 * by the credentials import (activities/credentials.ts), not by the callback: the newest
 * event's links win, and an event an earlier version stored (no links in it) keeps what
 * sso_links holds. Real store (FerretDB), the activity run as Temporal runs it.
 */
describe('credentials import: saves the sign-in links the event carried (FerretDB)', function () {
  this.timeout(60_000);
  let db: Database;
  let store: Store;
  let links: SsoLinksStore;
  const keyring = parseKeyring(generateKeySpec('links1'));
  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('links'));
    store = createStore(db, keyring);
    await store.ensureIndexes();
    links = new SsoLinksStore(db);
  });
  after(async () => {
    await db?.db.dropDatabase();
    await db?.close();
  });

  const importCredentials = (input: { installationId: string; eventId: string; activate: boolean }) => {
    const acts = createActivities({
      store,
      talkdesk: new TalkdeskClient({ allowedHosts: ['127.0.0.1:1'], timeoutMs: 1_000 }),
      logger: createLogger({ level: 'silent' }),
    });
    return new MockActivityEnvironment().run(acts.importCredentials, input);
  };

  /** Stores an event with credentials as the callback does; `authorization` undefined drops the link (and the sign-in links). */
  async function storeEvent(
    type: Extract<EventType, 'app.installed' | 'app.credentials_rotated'>,
    installationId: string,
    createdAt: string,
    authorization: string | undefined,
    options: { withoutSignInLinks?: boolean } = {},
  ) {
    const body = exampleEvent(type) as { id: string; created_at: string; data: Record<string, unknown>; _links: Record<string, unknown> };
    body.id = hex();
    body.created_at = createdAt;
    body.data.installation_id = installationId;
    body.data.account_id = 'acc1';
    body.data.client_id = hex();
    body._links.tokens = { href: 'https://starship.talkdeskid.com/oauth/token' };
    if (authorization) body._links.authorization = { href: authorization };
    else delete body._links.authorization;
    const parsed = parseEvent(body);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const lifecycle = toLifecycleEvent(parsed.event);
    // As an earlier version stored it: no sign-in links in the event.
    if (options.withoutSignInLinks) delete lifecycle.signInLinks;
    const creds = extractCredentials(parsed.event);
    assert.ok(creds);
    const outcome = await store.inbox.insert(
      {
        _id: body.id,
        installationId,
        type,
        createdAt: new Date(createdAt),
        receivedAt: new Date(),
        event: lifecycle,
      },
      sealEventCredentials(keyring, installationId, creds),
      { queue: false },
    );
    assert.equal(outcome.stored, 'stored');
    return { eventId: body.id, body };
  }

  it('an install saves its authorization, tokens, userinfo and widget links; a retry changes nothing', async () => {
    const installationId = hex();
    const { eventId, body } = await storeEvent('app.installed', installationId, '2026-12-01T10:00:00Z', 'https://a.example/authorize');
    assert.equal(await links.get(installationId), null, 'nothing before the import');
    await importCredentials({ installationId, eventId, activate: true });
    const saved = await links.get(installationId);
    const l = body._links as Record<string, { href: string }>;
    assert.deepEqual(
      { authorization: saved?.authorization, tokens: saved?.tokens, userinfo: saved?.userinfo, widgetUrl: saved?.widgetUrl },
      { authorization: 'https://a.example/authorize', tokens: l.tokens?.href, userinfo: l.userinfo?.href, widgetUrl: l.widget_url?.href },
    );
    assert.equal(saved?.eventId, eventId);
    await importCredentials({ installationId, eventId, activate: true });
    assert.equal((await links.get(installationId))?.authorization, 'https://a.example/authorize', 'a retry keeps them');
  });

  it('the newest event wins: a newer rotation replaces the links, an older one imported after it does not', async () => {
    const installationId = hex();
    const install = await storeEvent('app.installed', installationId, '2026-12-01T10:00:00Z', 'https://a.example/first');
    await importCredentials({ installationId, eventId: install.eventId, activate: true });
    const newer = await storeEvent('app.credentials_rotated', installationId, '2026-12-01T12:00:00Z', 'https://a.example/newer');
    const older = await storeEvent('app.credentials_rotated', installationId, '2026-12-01T11:00:00Z', 'https://a.example/older');
    await importCredentials({ installationId, eventId: newer.eventId, activate: false });
    assert.equal((await links.get(installationId))?.authorization, 'https://a.example/newer');
    await importCredentials({ installationId, eventId: older.eventId, activate: false });
    const saved = await links.get(installationId);
    assert.equal(saved?.authorization, 'https://a.example/newer', 'an older event never overwrites a newer one');
    assert.equal(saved?.eventId, newer.eventId);
  });

  it('an event stored by an earlier version (no links in it) keeps what sso_links holds', async () => {
    const installationId = hex();
    // What the earlier version's callback saved for its install.
    await links.save(
      installationId,
      { authorization: 'https://a.example/kept', tokens: 'https://a.example/token' },
      {
        id: 'earlier',
        createdAt: new Date('2026-12-01T09:00:00Z'),
      },
    );
    const rotation = await storeEvent('app.credentials_rotated', installationId, '2026-12-01T10:00:00Z', 'https://a.example/ignored', {
      withoutSignInLinks: true,
    });
    await importCredentials({ installationId, eventId: rotation.eventId, activate: false });
    const saved = await links.get(installationId);
    assert.equal(saved?.authorization, 'https://a.example/kept');
    assert.equal(saved?.eventId, 'earlier');
  });
});
