import assert from 'node:assert/strict';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { COLLECTIONS, type Store } from '../../src/store';
import type { InstalledEvent } from '../../src/simulator';
import { workflowIdFor } from '../../workflows/definitions';

/** An event as a plain object to change in some way. */
export type Mutable = Record<string, unknown> & { data: Record<string, unknown>; _links: Record<string, unknown> };

/** A deep copy of an event as a plain object to change in some way. */
export const copy = (event: InstalledEvent): Mutable => structuredClone(event) as unknown as Mutable;

/** Every inbox record, whatever its event or installation. */
export function inboxCount(store: Store): Promise<number> {
  return store.db.collection(COLLECTIONS.inbox).countDocuments();
}

/** The installation has no workflow at all (describe answers WorkflowNotFoundError). */
export async function assertNoWorkflow(client: Client, installationId: string): Promise<void> {
  await assert.rejects(
    client.workflow.getHandle(workflowIdFor(installationId)).describe(),
    (err: unknown) => err instanceof WorkflowNotFoundError,
    `no workflow may exist for installation ${installationId}`,
  );
}

/** Nothing of the event reached the inbox or Temporal. */
export async function assertNothingStored(
  store: Store,
  client: Client,
  refs: { countBefore: number; eventId?: string; installationId?: string },
): Promise<void> {
  assert.equal(await inboxCount(store), refs.countBefore, 'the inbox holds no new record');
  if (refs.eventId !== undefined) {
    assert.equal(await store.inbox.get(refs.eventId), null, `no inbox record for event ${refs.eventId}`);
    assert.equal(await store.eventCredentials.get(refs.eventId), undefined, `no credentials stored for event ${refs.eventId}`);
  }
  if (refs.installationId !== undefined) {
    assert.deepEqual(await store.inbox.listForInstallation(refs.installationId), [], 'no inbox record for the installation');
    assert.equal(await store.installations.get(refs.installationId), null, 'no installation record');
    assert.deepEqual(await store.credentials.list(refs.installationId), [], 'no credentials');
    await assertNoWorkflow(client, refs.installationId);
  }
}
