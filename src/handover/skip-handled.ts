import type { InstallationStore } from '../store/installations';
import type { Dispatch } from './start';

/**
 * For hand-overs that may repeat one already made (the dispatcher after a failed
 * mark, a redelivered event not marked yet, reconciliation): an event the
 * installation's workflow already finished is not handed over again. Once that
 * workflow has completed, signal-with-start would open a new run holding nothing but
 * the repeat. Which events are finished is read from the installation's record, which
 * the workflow writes before it completes.
 */
export function skipHandled(dispatch: Dispatch, installations: Pick<InstallationStore, 'get'>): Dispatch {
  return async (event) => {
    const record = await installations.get(event.installationId);
    if (record?.handledEventIds?.includes(event.eventId)) return;
    await dispatch(event);
  };
}
