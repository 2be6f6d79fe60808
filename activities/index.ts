import { credentialActivities } from './credentials';
import type { ActivityDeps } from './deps';
import { installationRecordActivities } from './installation-record';
import { heartbeatingThroughout } from './partner-calls';
import { provisioningActivities } from './provisioning';
import { reconciliationActivities } from './reconciliation';
import { talkdeskCallActivities } from './talkdesk-calls';

export type { ActivityDeps } from './deps';

export { sanitiseFailures } from './failures';

/** Every activity by name, as workflows proxy them. */
export type Activities = ReturnType<typeof createActivities>;

/**
 * Every activity of the service, built from its dependencies (store, Talkdesk
 * client, logger) so tests can pass real or fake ones. The worker registers them
 * with the `sanitiseFailures` interceptor, so only safe, typed failures reach
 * Temporal history.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...credentialActivities(deps),
    ...provisioningActivities(deps),
    ...talkdeskCallActivities(deps),
    ...installationRecordActivities(deps),
    ...housekeepingHeartbeating(reconciliationActivities(deps)),
  };
}

/**
 * The reconciliation's housekeeping activities heartbeat from start to end: the workflow runs them with a heartbeat
 * timeout (workflows/reconcile.ts), so that an attempt lost with its worker is retried within a minute.
 */
function housekeepingHeartbeating(a: ReturnType<typeof reconciliationActivities>): ReturnType<typeof reconciliationActivities> {
  return {
    ...a,
    dispatchStoredEvents: heartbeatingThroughout('inbox hand-over', a.dispatchStoredEvents),
    destroyRetiredCredentials: heartbeatingThroughout('credentials backstop', a.destroyRetiredCredentials),
    listInstallationPage: heartbeatingThroughout('installation ids', a.listInstallationPage),
    planReconciliation: heartbeatingThroughout('planning the pass', a.planReconciliation),
  };
}
