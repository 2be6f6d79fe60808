/** The corpus checks of reconciliation's markActive scenarios (corpus-checks.ts requires them). */
import { decode, endedPhases, eventSignalIndex, patchesOf, type RawHistory } from './raw-history';

/** Where the first reconcile markActive was signalled; -1 when none was. */
const markActiveIndex = (h: RawHistory) =>
  h.events.findIndex(
    (e) =>
      e.workflowExecutionSignaledEventAttributes?.signalName === 'reconcile' &&
      (decode(e.workflowExecutionSignaledEventAttributes.input?.payloads?.[0]) as { action?: string } | undefined)?.action === 'markActive',
  );

/**
 * A reconcile markActive signalled while the uninstall's acknowledgement was backing off (a failed
 * `setInstallationState` between the uninstall's signal and the markActive), how the uninstall ended
 * (the completed run's last history entry), and whether the patch's marker follows the signal.
 */
export const markActiveDuringUninstall = (h: RawHistory) => {
  const uninstall = eventSignalIndex(h, 'app.uninstalled');
  const mark = markActiveIndex(h);
  const byId = new Map(h.events.map((e) => [e.eventId, e]));
  const stateCall = (scheduledEventId: string | undefined) =>
    byId.get(scheduledEventId ?? '')?.activityTaskScheduledEventAttributes?.activityType?.name === 'setInstallationState';
  const ackFailedBefore = h.events
    .slice(uninstall + 1, Math.max(uninstall + 1, mark))
    .some((e) => stateCall(e.activityTaskFailedEventAttributes?.scheduledEventId));
  const last = endedPhases(h).at(-1);
  const markerAfter = h.events.slice(mark + 1).some((e) => patchesOf(e).includes(MARK_ACTIVE_ONLY));
  return {
    during: uninstall >= 0 && mark > uninstall && ackFailedBefore,
    uninstallEnded: last?.phase === 'uninstalling' ? last.result : undefined,
    markerAfter,
  };
};
export const MARK_ACTIVE_ONLY = 'mark-active-only-install-or-update';

/**
 * A reconcile markActive signalled while an update's apply step was backing off (a failed
 * `applyUpdate` between the update's signal and the markActive, no state call before it); after
 * it, whether the apply completed, a state call was scheduled, and the patch's marker recorded.
 */
export const markActiveBeforeUpdateStateCall = (h: RawHistory) => {
  const update = eventSignalIndex(h, 'app.updated');
  const mark = markActiveIndex(h);
  const byId = new Map(h.events.map((e) => [e.eventId, e]));
  const activity = (scheduledEventId: string | undefined) =>
    byId.get(scheduledEventId ?? '')?.activityTaskScheduledEventAttributes?.activityType?.name;
  const between = h.events.slice(update + 1, Math.max(update + 1, mark));
  const after = h.events.slice(mark + 1);
  const applyFailedBefore = between.some((e) => activity(e.activityTaskFailedEventAttributes?.scheduledEventId) === 'applyUpdate');
  const stateCallBefore = between.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'setInstallationState');
  return {
    during: update >= 0 && mark > update && applyFailedBefore && !stateCallBefore,
    appliedAfter: after.some((e) => activity(e.activityTaskCompletedEventAttributes?.scheduledEventId) === 'applyUpdate'),
    stateCallAfter: after.some(
      (e) =>
        e.activityTaskScheduledEventAttributes?.activityType?.name === 'setInstallationState' &&
        (decode(e.activityTaskScheduledEventAttributes.input?.payloads?.[0]) as { concludes?: string } | undefined)?.concludes === 'update',
    ),
    markerAfter: after.some((e) => patchesOf(e).includes(MARK_ACTIVE_AFTER_STATE_CALL)),
  };
};
export const MARK_ACTIVE_AFTER_STATE_CALL = 'mark-active-after-state-call';

/**
 * A reconcile markActive signalled while an update's approval was backing off (a failed update
 * `setInstallationState` between the update's signal and the markActive, none completed), how the
 * update ended, whether an update state call completed after it, and the patch's marker.
 */
export const markActiveDuringUpdateStateCall = (h: RawHistory) => {
  const update = eventSignalIndex(h, 'app.updated');
  const mark = markActiveIndex(h);
  const byId = new Map(h.events.map((e) => [e.eventId, e]));
  const updateCall = (scheduledEventId: string | undefined) => {
    const s = byId.get(scheduledEventId ?? '')?.activityTaskScheduledEventAttributes;
    return (
      s?.activityType?.name === 'setInstallationState' &&
      (decode(s.input?.payloads?.[0]) as { concludes?: string } | undefined)?.concludes === 'update'
    );
  };
  const between = h.events.slice(update + 1, Math.max(update + 1, mark));
  const after = h.events.slice(mark + 1);
  // The first update state call after the signal: scheduled before any timer fired (the backoff cut short),
  // and completed with the approval sent (not found concluded at Talkdesk).
  const retry = after.findIndex((e) => updateCall(e.eventId));
  const retryDone = after.find((e) => e.activityTaskCompletedEventAttributes?.scheduledEventId === after[retry]?.eventId);
  const retryResult = decode(retryDone?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]) as
    { alreadyConcluded?: boolean } | undefined;
  return {
    retriedAtOnce:
      retry >= 0 && !after.slice(0, retry).some((e) => e.timerFiredEventAttributes) && !!retryResult && !retryResult.alreadyConcluded,
    during:
      update >= 0 &&
      mark > update &&
      between.some((e) => updateCall(e.activityTaskFailedEventAttributes?.scheduledEventId)) &&
      !between.some((e) => updateCall(e.activityTaskCompletedEventAttributes?.scheduledEventId)),
    approvedAfter: after.some((e) => updateCall(e.activityTaskCompletedEventAttributes?.scheduledEventId)),
    updateEnded: endedPhases(h).find((p) => p.phase === 'updating')?.result,
    markerAfter: after.some((e) => patchesOf(e).includes(MARK_ACTIVE_RETRIES_STATE_CALL)),
  };
};
export const MARK_ACTIVE_RETRIES_STATE_CALL = 'mark-active-retries-state-call';
