import { workflowIdFor, type InstallationPhase } from '../../workflows/definitions';
import type { ActivityHarness } from '../support/activity-harness';

/** An installation whose record is in `phase`, its install event stored (and its credentials imported). */
export async function recordedInstallation(h: ActivityHarness, phase: InstallationPhase, t0: number) {
  const { installation, event } = h.simulator.createInstallation({}, { createdAt: new Date(t0).toISOString() });
  const installed = await h.storeEvent(event);
  const creds = await h.run(h.acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });
  const base = {
    installationId: installation.id,
    workflowId: workflowIdFor(installation.id),
    appId: h.simulator.appId,
    links: installed.links,
  };
  // `phaseEventId`: the event of the phase under way, as the workflow records it while a phase runs.
  const record = (p: InstallationPhase, running: { phaseEventId?: string } = {}) =>
    h.run(h.acts.recordInstallation, { ...base, phase: p, activeClientId: creds.clientId, ...running });
  return { id: installation.id, event, record: () => record(phase), recordAs: record };
}
