/**
 * What the recordings in test/histories/ must contain between them, read from their
 * JSON (event types as names, payloads base64 JSON): the replay test requires each, so
 * that a scenario dropped or recorded wrongly is noticed rather than silently not replayed.
 */
import {
  activityOf,
  decode,
  endedPhases,
  eventSignalIndex,
  ignoredReasons,
  localActivities,
  patches,
  patchesOf,
  scheduled,
  signals,
  stateCallClients,
  type,
  type RawEvent,
  type RawHistory,
} from './raw-history';
import { PATCHES_DECIDED_AT_START, PATCHES_DECIDED_AT_START_1_TO_14 } from '../../workflows/installation/patches';
import { took } from './took';
import { ADOPTION_CHECKS } from './adoption-checks';
import { DEADLINE_READ_CHECKS } from './deadline-checks';
import { GENERATION_15_CHECKS } from './generation-15-checks';
import { GENERATION_16_CHECKS } from './generation-16-checks';
import { GENERATION_17_CHECKS } from './generation-17-checks';
import { GENERATION_18_CHECKS } from './generation-18-checks';
import { STOPPED_OPERATION_CHECKS } from './stopped-operation-checks';

import {
  MARK_ACTIVE_AFTER_STATE_CALL,
  MARK_ACTIVE_ONLY,
  MARK_ACTIVE_RETRIES_STATE_CALL,
  markActiveBeforeUpdateStateCall,
  markActiveDuringUninstall,
  markActiveDuringUpdateStateCall,
} from './mark-active-checks';

export type { RawHistory } from './raw-history';

/** Timers that fired, with the summary they were started with ('' when none) and the activity scheduled next. */
function firedTimers(h: RawHistory): { summary: string; nextActivity?: string }[] {
  const byId = new Map(h.events.map((e, i) => [e.eventId, { e, i }]));
  return h.events.flatMap((e, i) => {
    const started = e.timerFiredEventAttributes?.startedEventId;
    if (!started) return [];
    const summary = decode(byId.get(started)?.e.userMetadata?.summary);
    const next = h.events.slice(i).find((n) => n.activityTaskScheduledEventAttributes);
    return [
      { summary: typeof summary === 'string' ? summary : '', nextActivity: next?.activityTaskScheduledEventAttributes?.activityType?.name },
    ];
  });
}

/** A local activity's marker that ends a workflow task: the code after the activity ran in the next task. */
const splitAfterLocalActivity = (h: RawHistory): boolean =>
  h.events.some(
    (e, i) =>
      e.markerRecordedEventAttributes?.markerName === 'core_local_activity' && type(h.events[i + 1] ?? e) === 'WORKFLOW_TASK_SCHEDULED',
  );
/** The state a run started with was handed over in the middle of a phase (`resume`). */
const startedMidPhase = (h: RawHistory) =>
  !!(decode(h.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]) as { carried?: { resume?: unknown } } | undefined)
    ?.carried?.resume;
/** An uninstall signalled before a local activity (the update's phase record) failed: it reached the workflow in the record's backoff. */
const uninstallWhileUpdateStarting = (h: RawHistory) => {
  const at = (e: RawEvent) => h.events.indexOf(e);
  const uninstall = h.events[eventSignalIndex(h, 'app.uninstalled')];
  const update = h.events[eventSignalIndex(h, 'app.updated')];
  const failedRecord = h.events.find(
    (e) => e.markerRecordedEventAttributes?.failure !== undefined && update !== undefined && at(e) > at(update),
  );
  return uninstall !== undefined && failedRecord !== undefined && at(uninstall) < at(failedRecord);
};
const START_GATE = 'interrupt-at-phase-start';

/** An uninstall signalled after a trial record failed, while the trial step backed off. */
const uninstallWhileTrialRetrying = (h: RawHistory) => {
  const uninstall = eventSignalIndex(h, 'app.uninstalled');
  // A failure of the activity scheduled last before it: the trial record.
  const failedTrial = h.events.findIndex(
    (e, i) => type(e) === 'ACTIVITY_TASK_FAILED' && scheduled(h).slice(0, i).filter(Boolean).at(-1) === 'recordTrial',
  );
  return uninstall > 0 && failedTrial > 0 && failedTrial < uninstall;
};
/** A trial record scheduled after the uninstall's signal: the uninstall waited behind it. */
const trialRecordedAfterUninstall = (h: RawHistory) => {
  const uninstall = eventSignalIndex(h, 'app.uninstalled');
  return scheduled(h).slice(uninstall).includes('recordTrial');
};
const TRIAL_RECORD = 'trial-record-interruptible';

/**
 * Install approved, a routine rotation ended `failed` when its acknowledgement failed, the uninstall
 * acknowledged: with the rotation's set (switched to) or with the install's. Returns where the
 * acknowledgement failed (-1 when the history is not that).
 */
const routineAckRefused = (h: RawHistory): number => {
  const expected = [
    ['installing', 'approved'],
    ['active', 'failed'],
    ['uninstalling', 'acknowledged'],
  ];
  if (JSON.stringify(endedPhases(h).map((p) => [p.phase, p.result])) !== JSON.stringify(expected)) return -1;
  const rotation = signals(h, 'event').find((e) => (e as { type?: string }).type === 'app.credentials_rotated') as
    { facts?: { compromised?: boolean } } | undefined;
  if (!rotation || rotation.facts?.compromised === true) return -1;
  const clients = stateCallClients(h);
  if (clients.length < 2 || (clients[0] !== clients.at(-1)) !== localActivities(h).includes('switchCredentials')) return -1;
  return h.events.findIndex((e) => e.activityTaskFailedEventAttributes && activityOf(h, e) === 'acknowledgeCredentials');
};
/** The patch's marker follows the failed acknowledgement with no local activity between (asked where it stands). */
const askedAfter = (h: RawHistory, patch: string, from: number): boolean => {
  const at = h.events.findIndex((e) => patchesOf(e).includes(patch));
  return (
    from >= 0 && at > from && !h.events.slice(from, at).some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
  );
};

/** The reasons of the events the completed run ignored (its result, the installation's view). */
const phasesAre = (h: RawHistory, expected: string[][]) =>
  JSON.stringify(endedPhases(h).map((p) => [p.phase, p.result])) === JSON.stringify(expected);
/** An install, then a reinstall under the same installation id, both approved. */
const TWO_INSTALLS = [
  ['installing', 'approved'],
  ['installing', 'approved'],
];
/** A rotation that ended `expired` between the install and the uninstall. */
const rotationExpired = (h: RawHistory) =>
  eventSignalIndex(h, 'app.credentials_rotated') >= 0 &&
  phasesAre(h, [
    ['installing', 'approved'],
    ['active', 'expired'],
    ['uninstalling', 'acknowledged'],
  ]);
const rejectAccepted = (h: RawHistory) =>
  h.events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'reject');

const firstEventType = (h: RawHistory) => (signals(h, 'event')[0] as { type?: string } | undefined)?.type;

/** Each distinctive thing the corpus must hold, and whether a recording holds it. */
export const REQUIRED_IN_CORPUS: Record<string, (h: RawHistory) => boolean> = {
  'a run started with the one marker of the first fourteen generations, none of theirs (patches-decided-at-start-1-to-14)': (h) =>
    patches(h).includes(PATCHES_DECIDED_AT_START_1_TO_14) && !patches(h).includes(PATCHES_DECIDED_AT_START),
  'a run that continued as new': (h) => type(h.events.at(-1)!) === 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
  'a run started by continue-as-new that completed': (h) =>
    !!h.events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId &&
    type(h.events.at(-1)!) === 'WORKFLOW_EXECUTION_COMPLETED',
  'a reconcile signal markActive': (h) =>
    signals(h, 'reconcile').some((a) => (a as { action?: string } | undefined)?.action === 'markActive'),
  'a reconcile signal deprovision': (h) =>
    signals(h, 'reconcile').some((a) => (a as { action?: string } | undefined)?.action === 'deprovision'),
  'a retryNow update accepted': (h) =>
    h.events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'retryNow'),
  'a phase deadline timer firing': (h) => firedTimers(h).some((t) => t.summary.startsWith('deadline')),
  'the ordering grace timer firing (first event not app.installed)': (h) =>
    firstEventType(h) !== undefined && firstEventType(h) !== 'app.installed' && firedTimers(h).some((t) => t.summary === ''),
  "a retiring credential set's timer firing, then destroyCredentials": (h) =>
    firedTimers(h).some((t) => t.summary === '' && t.nextActivity === 'destroyCredentials'),
  'a store step run as a local activity (store-steps-local)': (h) => localActivities(h).includes('importCredentials'),
  'a store step whose local attempt timed out, retried on the server (store-step-bounded-local)': (h) =>
    took(h, 'store-step-bounded-local') && scheduled(h).includes('destroyCredentials'),
  'a run that continued as new mid-phase': (h) =>
    took(h, 'continue-as-new-mid-phase') && type(h.events.at(-1)!) === 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
  'a run that re-entered a phase carried over mid-phase, to completion': (h) =>
    startedMidPhase(h) && type(h.events.at(-1)!) === 'WORKFLOW_EXECUTION_COMPLETED',
  'an operator reject during an update: the update alone rejected, nothing undone (operator-reject-concluded-operations)': (h) =>
    took(h, 'operator-reject-concluded-operations') &&
    h.events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'reject') &&
    scheduled(h).includes('revertUpdate') &&
    !scheduled(h).includes('undoProvisioning'),
  'an uninstall while an update applied its change: reverted from its plan, no result to go by (revert-update-stopped-while-applying)': (
    h,
  ) =>
    took(h, 'revert-update-stopped-while-applying') &&
    !h.events.some((e) => e.activityTaskCompletedEventAttributes && activityOf(h, e) === 'applyUpdate') &&
    h.events.some(
      (e) =>
        e.activityTaskScheduledEventAttributes?.activityType?.name === 'revertUpdate' &&
        !('applied' in ((decode(e.activityTaskScheduledEventAttributes.input?.payloads?.[0]) as object | undefined) ?? { applied: 0 })),
    ),
  'an update reverted': (h) => h.events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'revertUpdate'),
  'a reconciliation pass paging by id (before the planned pass)': (h) => scheduled(h).includes('reconcileInstallations'),
  'an uninstall arriving as an update started, before the start gate: the update ran on': (h) =>
    uninstallWhileUpdateStarting(h) && !took(h, START_GATE) && scheduled(h).includes('applyUpdate'),
  'an uninstall arriving as an update started, stopped by the start gate (interrupt-at-phase-start)': (h) =>
    uninstallWhileUpdateStarting(h) && took(h, START_GATE) && !scheduled(h).includes('applyUpdate'),
  "a local activity's marker ending a workflow task, the code after it in the next (patches-decided-at-start)": (h) =>
    patches(h).includes(PATCHES_DECIDED_AT_START) && splitAfterLocalActivity(h),
  'an uninstall arriving while a trial record retried, before the patch: the trial recorded first': (h) =>
    uninstallWhileTrialRetrying(h) && !took(h, TRIAL_RECORD) && trialRecordedAfterUninstall(h),
  'an uninstall interrupting a retrying trial record (trial-record-interruptible)': (h) =>
    uninstallWhileTrialRetrying(h) && took(h, TRIAL_RECORD) && !trialRecordedAfterUninstall(h),
  'a markActive during an uninstall, before the patch: the uninstall interrupted, never acknowledged': (h) => {
    const m = markActiveDuringUninstall(h);
    return m.during && !patches(h).includes(MARK_ACTIVE_ONLY) && m.uninstallEnded === 'interrupted';
  },
  'a markActive during an uninstall ignored, the uninstall acknowledged (mark-active-only-install-or-update)': (h) => {
    const m = markActiveDuringUninstall(h);
    return m.during && m.markerAfter && m.uninstallEnded === 'acknowledged';
  },
  'a markActive while an update applied its users, before the patch: the update ended unapplied': (h) => {
    const m = markActiveBeforeUpdateStateCall(h);
    return m.during && !patches(h).includes(MARK_ACTIVE_AFTER_STATE_CALL) && !m.appliedAfter && !m.stateCallAfter;
  },
  'a markActive while an update applied its users ignored: applied, then its state call (mark-active-after-state-call)': (h) => {
    const m = markActiveBeforeUpdateStateCall(h);
    return m.during && m.markerAfter && m.appliedAfter && m.stateCallAfter;
  },
  "a stale markActive while an update's approval backed off, before the patch: the update ended, its approval never sent": (h) => {
    const m = markActiveDuringUpdateStateCall(h);
    return (
      m.during &&
      !patches(h).includes(MARK_ACTIVE_RETRIES_STATE_CALL) &&
      !m.approvedAfter &&
      !m.retriedAtOnce &&
      m.updateEnded === 'marked-active'
    );
  },
  "a stale markActive while an update's approval backed off: retried at once, the approval sent (mark-active-retries-state-call)": (h) => {
    const m = markActiveDuringUpdateStateCall(h);
    return m.during && m.markerAfter && m.retriedAtOnce && m.updateEnded === 'approved';
  },
  'a routine rotation whose acknowledgement was refused, its proven set destroyed (before routine-rotation-keeps-proven-set)': (h) =>
    !took(h, 'routine-rotation-keeps-proven-set') && routineAckRefused(h) >= 0 && !localActivities(h).includes('switchCredentials'),
  'a routine rotation whose acknowledgement was refused, its proven set used all the same (routine-rotation-keeps-proven-set)': (h) =>
    askedAfter(h, 'routine-rotation-keeps-proven-set', routineAckRefused(h)) && localActivities(h).includes('switchCredentials'),
  "a short run that deleted an ignored rotation's credentials (discard-ignored-credentials)": (h) =>
    took(h, 'discard-ignored-credentials') && localActivities(h).includes('discardEventCredentials'),
  "an operator's malformed reconcile signal, before the patch: the installation deprovisioned": (h) =>
    signals(h, 'reconcile').some((a) => (a as { action?: string } | undefined)?.action === 'markactive') &&
    !took(h, 'reconcile-ignores-malformed') &&
    endedPhases(h).at(-1)?.result === 'deprovisioned',
  "an operator's malformed reconcile signals ignored, the uninstall acknowledged later (reconcile-ignores-malformed)": (h) =>
    signals(h, 'reconcile').length === 2 &&
    took(h, 'reconcile-ignores-malformed') &&
    endedPhases(h).at(-1)?.phase === 'uninstalling' &&
    endedPhases(h).at(-1)?.result === 'acknowledged',
  "an uninstall stopping a failed install's rejection, before the patch: its credentials destroyed, acknowledged by none": (h) =>
    !took(h, 'queued-uninstall-keeps-credentials') &&
    JSON.stringify(endedPhases(h).map((p) => [p.phase, p.result])) === '[["installing","rejected"],["uninstalling","failed"]]',
  "an uninstall stopping a failed install's rejection, acknowledged with the install's credentials (queued-uninstall-keeps-credentials)": (
    h,
  ) =>
    took(h, 'queued-uninstall-keeps-credentials') &&
    JSON.stringify(endedPhases(h).map((p) => [p.phase, p.result])) === '[["installing","rejected"],["uninstalling","acknowledged"]]',
  'a planned reconciliation pass whose page failed for good, before the patch: the pass failed': (h) =>
    scheduled(h).includes('reconcilePlannedPage') &&
    !took(h, 'reconcile-page-failures-reported') &&
    type(h.events.at(-1)!) === 'WORKFLOW_EXECUTION_FAILED',
  'a planned reconciliation pass whose page failed for good, reported and gone on (reconcile-page-failures-reported)': (h) =>
    took(h, 'reconcile-page-failures-reported') &&
    h.events.some((e) => e.activityTaskFailedEventAttributes && activityOf(h, e) === 'reconcilePlannedPage') &&
    type(h.events.at(-1)!) === 'WORKFLOW_EXECUTION_COMPLETED',
  'a trial end queued ahead of the uninstall, before the patch: recorded first': (h) =>
    eventSignalIndex(h, 'app.trial_ended') >= 0 && !took(h, 'trial-superseded-by-queued-uninstall') && trialRecordedAfterUninstall(h),
  'a trial end queued ahead of the uninstall, superseded by it (trial-superseded-by-queued-uninstall)': (h) =>
    took(h, 'trial-superseded-by-queued-uninstall') &&
    ignoredReasons(h).includes('app.trial_ended superseded by a queued uninstall') &&
    !trialRecordedAfterUninstall(h),
  "an operator reject after an install's approval landed (answer lost), before the patch: undone, ended rejected": (h) =>
    rejectAccepted(h) &&
    !took(h, 'operator-reject-reads-talkdesk-first') &&
    scheduled(h).includes('undoProvisioning') &&
    phasesAre(h, [
      ['installing', 'interrupted'],
      ['rejected', 'rejected'],
    ]),
  "an operator reject after an install's approval landed (answer lost): Talkdesk read first, the install kept (operator-reject-reads-talkdesk-first)":
    (h) =>
      rejectAccepted(h) &&
      took(h, 'operator-reject-reads-talkdesk-first') &&
      !scheduled(h).includes('undoProvisioning') &&
      phasesAre(h, [
        ['installing', 'interrupted'],
        ['active', 'not-open'],
        ['uninstalling', 'acknowledged'],
      ]),
  "an operator reject after an update's approval landed (answer lost), before the patch: reverted, ended rejected": (h) =>
    rejectAccepted(h) &&
    !took(h, 'operator-reject-of-update-reads-talkdesk-first') &&
    scheduled(h).includes('revertUpdate') &&
    phasesAre(h, [
      ['installing', 'approved'],
      ['updating', 'interrupted'],
      ['active', 'rejected'],
      ['uninstalling', 'acknowledged'],
    ]),
  "an operator reject after an update's approval landed (answer lost): Talkdesk read first, the update kept (operator-reject-of-update-reads-talkdesk-first)":
    (h) =>
      rejectAccepted(h) &&
      took(h, 'operator-reject-of-update-reads-talkdesk-first') &&
      !scheduled(h).includes('revertUpdate') &&
      phasesAre(h, [
        ['installing', 'approved'],
        ['updating', 'interrupted'],
        ['active', 'not-open'],
        ['uninstalling', 'acknowledged'],
      ]),
  'a planned reconciliation pass': (h) => scheduled(h).includes('planReconciliation') && scheduled(h).includes('reconcilePlannedPage'),
  'an uninstall older than a same-id reinstall applied, before the patch: applied, the live account deprovisioned': (h) =>
    !took(h, 'stale-uninstall-spares-reinstall') && phasesAre(h, [...TWO_INSTALLS, ['uninstalling', 'not-open']]),
  'an uninstall older than a same-id reinstall applied: ignored, the installation kept (stale-uninstall-spares-reinstall)': (h) =>
    took(h, 'stale-uninstall-spares-reinstall') &&
    ignoredReasons(h).some((r) => r.startsWith('uninstall older than the applied install')) &&
    phasesAre(h, [...TWO_INSTALLS, ['uninstalling', 'acknowledged']]),
  'a rotation handled after its deadline, before the patch: expired at once, nothing of it ran': (h) =>
    rotationExpired(h) && !took(h, 'rotation-imported-after-its-deadline') && !scheduled(h).includes('obtainToken'),
  'a rotation handled after its deadline: imported, proven and switched to (rotation-imported-after-its-deadline)': (h) =>
    rotationExpired(h) &&
    took(h, 'rotation-imported-after-its-deadline') &&
    scheduled(h).includes('obtainToken') &&
    localActivities(h).includes('switchCredentials'),
  ...DEADLINE_READ_CHECKS,
  ...GENERATION_15_CHECKS,
  ...GENERATION_16_CHECKS,
  ...GENERATION_17_CHECKS,
  ...GENERATION_18_CHECKS,
  ...ADOPTION_CHECKS,
  ...STOPPED_OPERATION_CHECKS,
};
