import type { Client } from '@temporalio/client';
import { stateQuery, workflowIdFor, type InstallationView } from '../../workflows/definitions';

/** Polls until `check` returns a value (not undefined), or fails with what it last saw. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

export function queryState(client: Client, installationId: string): Promise<InstallationView> {
  return client.workflow.getHandle(workflowIdFor(installationId)).query(stateQuery);
}

/** Waits until the installation's workflow reports `phase` (and nothing is left queued). */
export async function waitForPhase(client: Client, installationId: string, phase: string, timeoutMs = 30_000): Promise<InstallationView> {
  let last: InstallationView | undefined;
  try {
    return await eventually(
      `installation ${installationId} to be ${phase}`,
      async () => {
        last = await queryState(client, installationId);
        return last.phase === phase && last.pendingEvents.length === 0 && !last.currentStep ? last : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last state: ${JSON.stringify(last)}`);
  }
}

/** Waits for the installation's workflow to complete and returns its final view. */
export function finalView(client: Client, installationId: string): Promise<InstallationView> {
  return client.workflow.getHandle(workflowIdFor(installationId)).result() as Promise<InstallationView>;
}
