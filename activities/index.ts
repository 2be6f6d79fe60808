import { credentialActivities } from './credentials';
import type { ActivityDeps } from './deps';
import { safely } from './failures';
import { installationRecordActivities } from './installation-record';
import { provisioningActivities } from './provisioning';
import { reconciliationActivities } from './reconciliation';
import { talkdeskCallActivities } from './talkdesk-calls';

export type { ActivityDeps } from './deps';

/**
 * Every activity of the service, built from its dependencies (store, Talkdesk
 * client, logger) so tests can pass real or fake ones. Each is wrapped so that
 * only safe, typed failures reach Temporal history.
 */
export function createActivities(deps: ActivityDeps) {
  const raw = {
    ...credentialActivities(deps),
    ...provisioningActivities(deps),
    ...talkdeskCallActivities(deps),
    ...installationRecordActivities(deps),
    ...reconciliationActivities(deps),
  };
  return Object.fromEntries(Object.entries(raw).map(([name, fn]) => [name, safely(fn as never)])) as unknown as typeof raw;
}
