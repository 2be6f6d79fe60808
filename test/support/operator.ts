import { rejectUpdate, workflowIdFor } from '../../workflows/definitions';
import type { TestSystem } from './system';
import { eventually } from './waits';

/**
 * An operator's reject of an update whose approval Talkdesk keeps failing (a `failNext` on
 * `installationState`). Talkdesk stays down until the rejection is tried: cleared before the
 * reject, the update's next attempt could be approved first (and the workflow would rightly keep
 * it). A state call waits for its cancellation, so once the rejection is tried no approval
 * attempt is left to land; the faults are then cleared and the rejection's retry goes through.
 */
export async function rejectFailingUpdate(sys: TestSystem, id: string, reason: string): Promise<void> {
  await sys.client.workflow.getHandle(workflowIdFor(id)).executeUpdate(rejectUpdate, { args: [{ reason }] });
  await eventually('the rejection tried at Talkdesk', async () =>
    sys.simulator.stateCalls(id).find((c) => (c.body as { state?: string }).state === 'reject'),
  );
  sys.simulator.clearFaults();
}
