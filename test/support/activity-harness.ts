import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { generateKeySpec, parseKeyring, type Keyring } from '../../src/crypto/secrets';
import { extractCredentials, parseEvent, toLifecycleEvent } from '../../src/events/schemas';
import { createLogger } from '../../src/logging/logger';
import type { PartnerProvisioner } from '../../src/partner/provisioner';
import { startSimulator, type Simulator } from '../../src/simulator';
import { connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { workflowIdFor, type LifecycleEvent } from '../../workflows/definitions';
import { mongoUri, uniqueDbName } from './servers';

/**
 * Activities run in-process as the worker runs them (MockActivityEnvironment: heartbeats,
 * cancellation), against FerretDB (a database of their own) and the simulator, without a
 * Temporal server: the cheapest level for what activities send to the store.
 */
export interface ActivityHarness {
  db: Database;
  store: Store;
  keyring: Keyring;
  /** The SECRETS_KEY setting the keyring was parsed from (a test gives another worker the same key). */
  keySpec: string;
  simulator: Simulator;
  acts: ReturnType<typeof createActivities>;
  run<A, R>(fn: (input: A) => Promise<R>, input: A): Promise<R>;
  /** What the callback stores for an event: the inbox record and its credentials apart. */
  storeEvent(raw: unknown): Promise<LifecycleEvent>;
  /** A new installation at the simulator, its install event stored, recorded `installing` and its credentials imported. */
  installing(licensedUsers: number): Promise<Installing>;
  close(): Promise<void>;
}

export interface Installing {
  installation: ReturnType<Simulator['createInstallation']>['installation'];
  event: ReturnType<Simulator['createInstallation']>['event'];
  installed: LifecycleEvent;
  /** The installation record's fields every recordInstallation repeats. */
  base: { installationId: string; workflowId: string; appId: string; links: LifecycleEvent['links'] };
  clientId: string;
  /** What a Talkdesk call of an activity takes. */
  ref: { installationId: string; appId: string; clientId: string; rootUrl: string };
}

/** With the MongoDB driver's command monitoring on the store's connection. */
function monitored(uri: string): string {
  return `${uri}${uri.includes('?') ? '&' : uri.endsWith('/') ? '?' : '/?'}monitorCommands=true`;
}

export async function startActivityHarness(
  opts: { prepare?: boolean; partner?: (store: Store) => PartnerProvisioner } = {},
): Promise<ActivityHarness> {
  const keySpec = generateKeySpec('acts1');
  const keyring = parseKeyring(keySpec);
  const db = await connectDatabase(monitored(await mongoUri()), uniqueDbName('acts'));
  const store = createStore(db, keyring);
  // As every process does at start, unless a test plays data an older version left.
  if (opts.prepare ?? true) await store.prepare();
  else await store.ensureIndexes();
  const simulator = await startSimulator({ appId: 'app-acts', webhookSecret: 'secret-acts' });
  const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${simulator.port}`], timeoutMs: 5_000 });
  const acts = createActivities({ store, talkdesk, logger: createLogger({ level: 'silent' }), partner: opts.partner?.(store) });
  // The workflow's start-to-close timeout (the mock's default is 1 s, which a loaded machine can outlive).
  const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000 });
  const h: ActivityHarness = {
    db,
    store,
    keyring,
    keySpec,
    simulator,
    acts,
    run: <A, R>(fn: (input: A) => Promise<R>, input: A) => env.run(fn as never, input as never) as Promise<R>,
    async storeEvent(raw) {
      const parsed = parseEvent(JSON.parse(JSON.stringify(raw)));
      assert.ok(parsed.ok, 'the simulator made an event the callback accepts');
      const lifecycle = toLifecycleEvent(parsed.event);
      const creds = extractCredentials(parsed.event);
      await store.inbox.insert(
        {
          _id: parsed.event.id,
          installationId: lifecycle.installationId,
          type: parsed.event.type,
          createdAt: new Date(parsed.event.created_at),
          receivedAt: new Date(),
          event: lifecycle,
        },
        creds ? sealEventCredentials(keyring, lifecycle.installationId, creds) : undefined,
        { queue: false },
      );
      return lifecycle;
    },
    async installing(licensedUsers) {
      const { installation, event } = simulator.createInstallation({ licensedUsers });
      const installationId = installation.id;
      const installed = await h.storeEvent(event);
      const base = { installationId, workflowId: workflowIdFor(installationId), appId: simulator.appId, links: installed.links };
      await h.run(acts.recordInstallation, { ...base, phase: 'installing', lastEventAt: installed.createdAt });
      const { clientId } = await h.run(acts.importCredentials, { installationId, eventId: event.id, activate: true });
      const ref = { installationId, appId: simulator.appId, clientId, rootUrl: event._links.root.href };
      return { installation, event, installed, base, clientId, ref };
    },
    async close() {
      await simulator.stop();
      await db.db.dropDatabase();
      await db.close();
    },
  };
  return h;
}
