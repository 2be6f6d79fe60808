import { extractCredentials, parseEvent, toLifecycleEvent } from '../src/events/schemas';
import type { AccountRecord, AccountUsersRecord } from '../src/store/accounts';
import { credentialId, type CredentialRecord, type CredentialSetsRecord } from '../src/store/credentials';
import { COLLECTIONS } from '../src/store/db';
import type { InboxRecord } from '../src/handover/inbox';
import type { InstallationRecord } from '../src/store/installations';
import { installationWorkflow } from '../workflows/installation';
import { stateQuery, workflowIdFor } from '../workflows/definitions';
import { round } from './ingest';
import { runPool, sleep } from './load';
import type { BenchSystem } from './system';

export interface SeedResult {
  seeded: number;
  /** Records, credentials, accounts and inbox entries written in bulk. */
  writeSeconds: number;
  /** Workflows started from their stored record, and how fast. */
  startSeconds: number;
  startPerSecond: number;
  failed: number;
  errors: string[];
}

const BATCH = 500;

/**
 * Last Talkdesk reads spread evenly over the default window (RECONCILE_ACTIVE_CHECK_HOURS)
 * plus one default interval: the steady state, where a pass finds about one
 * installation in 97 due, rather than all of them due at once.
 */
export const STEADY_CHECK_SPREAD_MS = (24 * 60 + 15) * 60_000;

/**
 * Makes `count` installations active without their install path: what an install
 * leaves behind (the installation record in phase `active`, the encrypted active
 * credentials and their index, the account and its user index, the secret-free install event in the inbox) is written
 * in bulk, Talkdesk (the simulator) shows each one completed, and each workflow is
 * started the way reconciliation resumes a lost one: from its stored record, so it
 * waits, active, for its next event.
 *
 * Why: on the embedded FerretDB every install costs more as the collections grow
 * (any filter but `{_id}` reads the whole collection), so reaching 10,000 through
 * the install path takes hours; the install path's own cost is the lifecycle figure.
 */
export async function seedActiveInstallations(
  sys: BenchSystem,
  count: number,
  concurrency: number,
  timeoutMs: number,
): Promise<SeedResult> {
  const ids: string[] = [];
  const write = performance.now();
  for (let done = 0; done < count; done += BATCH) {
    // Typed as the stores' records, so that a field the service renames cannot drift here.
    const docs = {
      installations: [] as InstallationRecord[],
      credentials: [] as CredentialRecord[],
      credentialSets: [] as CredentialSetsRecord[],
      accounts: [] as AccountRecord[],
      accountUsers: [] as AccountUsersRecord[],
      inbox: [] as InboxRecord[],
    };
    for (let i = done; i < Math.min(count, done + BATCH); i += 1) {
      const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 1, unlicensedUsers: 0 });
      sys.simulator.setInstallationState(installation.id, 'completed');
      const parsed = parseEvent(event);
      const secret = parsed.ok ? extractCredentials(parsed.event) : undefined;
      if (!parsed.ok || !secret) throw new Error('the simulator made an install event the service would refuse');
      const lifecycle = toLifecycleEvent(parsed.event);
      const now = new Date();
      const clientId = secret.clientId;
      docs.installations.push({
        _id: installation.id,
        workflowId: workflowIdFor(installation.id),
        appId: lifecycle.appId,
        accountId: lifecycle.accountId,
        accountName: lifecycle.accountName,
        phase: 'active' as const,
        activeClientId: clientId,
        links: lifecycle.links,
        approvedAt: now,
        installApprovedAt: now,
        talkdeskCheckedAt: new Date(now.getTime() - Math.floor((i / count) * STEADY_CHECK_SPREAD_MS)),
        lastEventAt: lifecycle.createdAt,
        handledEventIds: [lifecycle.eventId],
        createdAt: now,
        updatedAt: now,
      });
      docs.credentials.push({
        _id: credentialId(installation.id, clientId),
        installationId: installation.id,
        clientId,
        keyId: secret.keyId,
        keyAlgorithm: secret.keyAlgorithm,
        tokenUrl: lifecycle.links.tokens ?? '',
        status: 'active' as const,
        secret: sys.store.credentials.encryptSecret(installation.id, clientId, {
          clientSecret: secret.clientSecret,
          privateKey: secret.privateKey,
          publicKey: secret.publicKey,
        }),
        sourceEventId: lifecycle.eventId,
        createdAt: now,
        activatedAt: now,
      });
      docs.credentialSets.push({ _id: installation.id, clientIds: [clientId], updatedAt: now });
      docs.accountUsers.push({ _id: installation.accountId, userIds: [], updatedAt: now });
      docs.accounts.push({
        _id: installation.accountId,
        installationId: installation.id,
        appId: lifecycle.appId,
        name: lifecycle.accountName ?? '',
        status: 'provisioned' as const,
        settingsRestored: false,
        createdAt: now,
        updatedAt: now,
      });
      docs.inbox.push({
        _id: lifecycle.eventId,
        installationId: installation.id,
        type: lifecycle.type,
        createdAt: new Date(lifecycle.createdAt),
        receivedAt: now,
        event: lifecycle,
        dispatchedAt: now,
      });
      ids.push(installation.id);
    }
    await sys.store.db.collection<InstallationRecord>(COLLECTIONS.installations).insertMany(docs.installations, { ordered: false });
    await sys.store.db.collection<CredentialRecord>(COLLECTIONS.credentials).insertMany(docs.credentials, { ordered: false });
    await sys.store.db.collection<CredentialSetsRecord>(COLLECTIONS.credentialSets).insertMany(docs.credentialSets, { ordered: false });
    await sys.store.db.collection<AccountRecord>(COLLECTIONS.accounts).insertMany(docs.accounts, { ordered: false });
    await sys.store.db.collection<AccountUsersRecord>(COLLECTIONS.accountUsers).insertMany(docs.accountUsers, { ordered: false });
    await sys.store.db.collection<InboxRecord>(COLLECTIONS.inbox).insertMany(docs.inbox, { ordered: false });
  }
  const writeSeconds = (performance.now() - write) / 1000;

  const started = await runPool(
    ids.length,
    concurrency,
    async (i) => {
      const installationId = ids[i]!;
      await sys.client.workflow.start(installationWorkflow, {
        workflowId: workflowIdFor(installationId),
        taskQueue: sys.taskQueue,
        args: [{ installationId, resumedByReconciliation: true }],
        staticSummary: `Talkdesk installation ${installationId} (seeded by the bench)`,
      });
    },
    timeoutMs,
  );
  // Started is not yet active: each run loads its record first. Wait until the last one has.
  const last = ids[ids.length - 1];
  if (last) {
    const handle = sys.client.workflow.getHandle(workflowIdFor(last));
    const stopAt = Date.now() + timeoutMs;
    while (Date.now() < stopAt) {
      const phase = await handle
        .query(stateQuery)
        .then((v) => v.phase)
        .catch(() => undefined);
      if (phase === 'active') break;
      await sleep(1_000);
    }
  }
  return {
    seeded: started.ok,
    writeSeconds: round(writeSeconds, 2),
    startSeconds: started.seconds,
    startPerSecond: started.perSecond,
    failed: started.failed,
    errors: started.errors,
  };
}
