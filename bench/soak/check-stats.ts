import type { SoakInstallation } from './plan';

/** The soak's end-check counts (bench/soak/checks.ts), and where the checks are while they run. */

export interface CheckStats {
  installations: number;
  inFinalPhase: number;
  accounts: number;
  events: number;
  eventsApplied: number;
  eventsRecordedIgnored: number;
  approvalPhases: number;
  /** Approvals answered 200 in time. */
  cleanApprovals: number;
  /**
   * Approvals that took effect but answered after the client's timeout (a hung
   * call). The retry reads the state first and does not send them again, so each
   * is still the phase's only approval.
   */
  lateApprovals: number;
  /**
   * Approved phases with no call of their own because an earlier call had already
   * concluded their operation at Talkdesk: one state endpoint serves every operation,
   * so an update's approval sent just after Talkdesk created an uninstall concludes
   * the uninstall, and the uninstall's retry reads the state and sends nothing (an
   * update concluded by the previous phase's retried approval likewise, ended by its
   * state call's read, hurried by reconciliation's markActive or not).
   */
  concludedByAnEarlierCall: number;
  /** Retried approvals of a phase that concluded the next operation (pending at Talkdesk by then), beside the phase's own. */
  concludedAnotherOperation: number;
  /** Phases interrupted (by an uninstall) after their one approval had reached the simulator. */
  approvalsOfInterruptedPhases: number;
  /**
   * Installs and updates ended by reconciliation's markActive (Talkdesk showed them completed while they retried):
   * only workflows on code before patch `mark-active-retries-state-call`, under which markActive ends no phase.
   */
  markedActivePhases: number;
  /** Of those, the ones whose own approval had taken effect (its answer lost): still one approval each. */
  markedActiveAfterOwnApproval: number;
  /**
   * State calls that concluded an update or an uninstall outside every phase of the
   * workflow: what reconciliation sent for a `pending` operation. Must be zero.
   */
  pendingConcludedOutsidePhases: number;
  /** State calls Talkdesk answered 409 (nothing open: a stray call). Must be zero. */
  conflictingStateCalls: number;
  /**
   * Runs that completed before an installation's latest one. An event handed over after its
   * workflow completed (a delivery the faults delayed) starts a run that records it and completes.
   */
  earlierRuns: number;
  /** Uninstalled in the store at the drive's end, their workflow completed only later (a retried last workflow task). */
  lateCompletions: number;
  historiesScanned: number;
  logFilesScanned: number;
  logBytesScanned: number;
  secretsLookedFor: number;
}

/** Where the end checks are, for a report written when they outlast the deadline. */
export interface CheckProgress {
  step: string;
  /** Installations whose final view step 1 is reading (or waiting for) now. */
  reading: Set<string>;
  /** The counts so far. */
  stats?: CheckStats;
  /** The violations found so far, and the installations whose workflow never completed (histories worth saving). */
  violations?: string[];
  stuck?: string[];
}

/** Every count at zero, for `installations` installations. */
export function emptyCheckStats(installations: number): CheckStats {
  return {
    installations,
    inFinalPhase: 0,
    accounts: 0,
    events: 0,
    eventsApplied: 0,
    eventsRecordedIgnored: 0,
    approvalPhases: 0,
    cleanApprovals: 0,
    lateApprovals: 0,
    concludedByAnEarlierCall: 0,
    concludedAnotherOperation: 0,
    approvalsOfInterruptedPhases: 0,
    markedActivePhases: 0,
    markedActiveAfterOwnApproval: 0,
    pendingConcludedOutsidePhases: 0,
    conflictingStateCalls: 0,
    earlierRuns: 0,
    lateCompletions: 0,
    historiesScanned: 0,
    logFilesScanned: 0,
    logBytesScanned: 0,
    secretsLookedFor: 0,
  };
}

/** The end checks' result when they outlast the hard deadline: where they were, and every installation not finished. */
export function checksOutlasted(
  progress: CheckProgress,
  installations: readonly SoakInstallation[],
  faults: readonly string[],
): { violations: string[]; stats: CheckStats; stuck: string[] } {
  const reading = [...progress.reading];
  const violations = [
    `the end checks did not finish before the hard deadline: at step ${progress.step}` +
      `${reading.length > 0 ? `, still reading ${reading.join(', ')}` : ''}; faults: ${faults.join('; ')}`,
    ...(progress.violations ?? []),
    // Those step 1 described already (where each stood) are not listed twice.
    ...installations
      .filter((i) => !i.finished && !(progress.violations ?? []).some((line) => line.startsWith(`${i.installationId} (`)))
      .map((i) => `${i.installationId} (${i.plan}): ${i.stoppedAt ?? 'not finished'}`),
  ];
  return {
    violations,
    stats: progress.stats ?? emptyCheckStats(installations.length),
    stuck: [...new Set([...(progress.stuck ?? []), ...reading])],
  };
}
