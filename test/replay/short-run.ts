import { workflowIdFor } from '../../workflows/definitions';
import type { TestSystem } from '../support/system';
import { eventually } from '../support/waits';
import type { Deliver } from './timer-scenarios';

/**
 * Waits for the installation's workflow to complete, delivers `event`, and waits for the short run
 * that event starts (a run of its own on the finished installation) to complete as well.
 */
export async function deliverToFinished(sys: TestSystem, deliver: Deliver, installationId: string, event: unknown): Promise<void> {
  const handle = sys.client.workflow.getHandle(workflowIdFor(installationId));
  const first = await eventually('the workflow to complete', async () => {
    const d = await handle.describe();
    return d.status.name === 'COMPLETED' ? d.runId : undefined;
  });
  await deliver(event);
  await eventually('the short run to complete', async () => {
    const d = await handle.describe();
    return d.runId !== first && d.status.name === 'COMPLETED' ? true : undefined;
  });
}
