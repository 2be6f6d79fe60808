/** Corpus checks of the eighth to tenth generations' patches (corpus-checks.ts requires each). */
import { decode, endedPhases, scheduled, type, type RawHistory } from './raw-history';
import { took } from './took';

const WITHIN_DEADLINE = 'operator-reject-within-operation-deadline';
const EARLIER_LIFE = 'earlier-life-events-over';
const UNDO_HEARTBEAT = 'account-undo-steps-heartbeat';
const EARLIER_INSTALL = 'earlier-life-install-over';
const KEPT_BEHIND_NEWER = 'operator-reject-of-update-kept-behind-newer';
const OPERATION_SEEN = 'reconcile-action-of-operation-seen';
const phasesOf = (h: RawHistory) =>
  endedPhases(h)
    .map((p) => `${p.phase}:${p.result}`)
    .join(' ');

/** startToCloseTimeout and heartbeatTimeout (as recorded, `"30s"`) of the first scheduling of an activity type. */
function timeoutsOf(h: RawHistory, activity: string): [string?, string?] {
  const a = h.events.map((e) => e.activityTaskScheduledEventAttributes).find((s) => s?.activityType?.name === activity);
  return [a?.startToCloseTimeout, a?.heartbeatTimeout];
}

/** The deadline (ISO) of the first phase timer started after the operator's `reject` was accepted, from its summary. */
function rejectDeadline(h: RawHistory): string | undefined {
  const accepted = h.events.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'reject');
  if (accepted < 0) return undefined;
  for (const e of h.events.slice(accepted)) {
    const summary = type(e) === 'TIMER_STARTED' ? decode(e.userMetadata?.summary) : undefined;
    if (typeof summary === 'string' && summary.startsWith('deadline ')) return summary.split(' ')[1];
  }
  return undefined;
}

export const STOPPED_OPERATION_CHECKS: Record<string, (h: RawHistory) => boolean> = {
  [`an operator's reject of an update stopped while applying: reverted, its rejection's deadline the update's own (${WITHIN_DEADLINE})`]: (
    h,
  ) => {
    const update = (endedPhases(h) as { phase?: string; result?: string; deadline?: string }[]).find(
      (p) => p.phase === 'updating' && p.result === 'interrupted',
    );
    const ended = endedPhases(h).map((p) => `${p.phase}:${p.result}`);
    return (
      took(h, WITHIN_DEADLINE) &&
      scheduled(h).includes('revertUpdate') &&
      ended.includes('active:rejected') &&
      update?.deadline !== undefined &&
      rejectDeadline(h) === update.deadline
    );
  },
  [`an update of an earlier life after a same-id reinstall: over, neither applied nor approved (${EARLIER_LIFE}); the deprovision heartbeating (${UNDO_HEARTBEAT})`]:
    (h) => {
      const ended = endedPhases(h).map((p) => `${p.phase}:${p.result}`);
      // The deprovision scheduled as the provision is (heartbeating: its long timeout and a heartbeat timeout).
      const [deprovision, heartbeat] = timeoutsOf(h, 'deprovisionAccount');
      return (
        took(h, EARLIER_LIFE) &&
        took(h, UNDO_HEARTBEAT) &&
        ended.includes('active:superseded') &&
        !scheduled(h).includes('applyUpdate') &&
        ended.at(-1) === 'uninstalling:acknowledged' &&
        deprovision !== undefined &&
        deprovision === timeoutsOf(h, 'provisionAccount')[0] &&
        heartbeat !== undefined &&
        heartbeat !== '0s'
      );
    },
  [`an install of an earlier life after a same-id reinstall: over, nothing of it run (${EARLIER_INSTALL})`]: (h) => {
    const ended = endedPhases(h).map((p) => `${p.phase}:${p.result}`);
    return (
      took(h, EARLIER_INSTALL) &&
      ended.join(' ') === 'installing:approved active:superseded uninstalling:acknowledged' &&
      scheduled(h).filter((a) => a === 'provisionAccount').length === 1
    );
  },
  [`an operator's reject of an update approved at Talkdesk with a newer update queued: nothing sent, kept (${KEPT_BEHIND_NEWER})`]: (h) =>
    took(h, KEPT_BEHIND_NEWER) &&
    phasesOf(h) === 'installing:approved updating:interrupted active:not-open updating:approved uninstalling:acknowledged' &&
    !scheduled(h).includes('revertUpdate'),
  [`before ${KEPT_BEHIND_NEWER}: the rejection sent on the newer update's pending, the approved update reverted`]: (h) =>
    !took(h, KEPT_BEHIND_NEWER) &&
    phasesOf(h) === 'installing:approved updating:interrupted active:rejected updating:not-open uninstalling:acknowledged',
  [`reconciliation's endUpdate judged on an earlier update, during a newer one's approval: ignored, approved (${OPERATION_SEEN})`]: (h) =>
    took(h, OPERATION_SEEN) &&
    phasesOf(h) === 'installing:approved updating:approved updating:approved uninstalling:acknowledged' &&
    !scheduled(h).includes('revertUpdate'),
  [`before ${OPERATION_SEEN}: that endUpdate ended the newer update, reverted`]: (h) =>
    !took(h, OPERATION_SEEN) &&
    /^installing:approved updating:approved updating:\S+ uninstalling:acknowledged$/.test(phasesOf(h)) &&
    !phasesOf(h).endsWith('updating:approved uninstalling:acknowledged') &&
    scheduled(h).includes('revertUpdate'),
};
