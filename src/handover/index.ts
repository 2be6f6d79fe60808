import type { Logger } from '../logging/logger';
import type { InstallationStore } from '../store/installations';
import { InboxDispatcher } from './dispatcher';
import type { InboxStore } from './inbox';
import { skipHandled } from './skip-handled';
import { createDispatch, HAND_OVER_TIMEOUT_MS, type Dispatch, type InstallationTarget } from './start';

/**
 * The exactly-once hand-over of stored events to their workflows (docs/handover.md).
 * Everything that writes an inbox record's hand-over state or starts an installation's
 * workflow for an event lives in this folder.
 */
export { InboxDispatcher, handOverStored, type StoredHandOver } from './dispatcher';
export { InboxStore, type InboxRecord, type InsertOutcome } from './inbox';
export { skipHandled } from './skip-handled';
export {
  createDispatch,
  resumeInstallation,
  startInstallation,
  HAND_OVER_TIMEOUT_MS,
  type Dispatch,
  type InstallationTarget,
} from './start';

export interface WebHandOver {
  /** The callback's first hand-over of a newly stored event. */
  dispatch: Dispatch;
  /** A hand-over that may repeat one already made (a redelivery, the dispatcher). */
  redispatch: Dispatch;
  dispatcher: InboxDispatcher;
}

/** The web process's side: the callback's hand-over and the dispatcher beside it. */
export function createWebHandOver(
  target: InstallationTarget,
  parts: { inbox: InboxStore; installations: Pick<InstallationStore, 'get'>; logger: Logger },
  options: { intervalMs: number; timeoutMs?: number },
): WebHandOver {
  const handOver = createDispatch(target, options.timeoutMs ?? HAND_OVER_TIMEOUT_MS.callback);
  // Any hand-over that succeeds tells the dispatcher that Temporal is back.
  const dispatch: Dispatch = async (event) => {
    await handOver(event);
    dispatcher.temporalAnswered();
  };
  const redispatch = skipHandled(dispatch, parts.installations);
  const dispatcher = new InboxDispatcher(parts.inbox, redispatch, parts.logger, { intervalMs: options.intervalMs });
  return { dispatch, redispatch, dispatcher };
}
