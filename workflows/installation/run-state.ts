import type { LifecycleEvent, ReconcileAction } from '../definitions';

/** What one run of the workflow keeps besides the carried state: requests waiting for the main loop. */
export interface RunState {
  pendingReject?: string;
  /** Patch operator-reject-concluded-operations, decided when the reject was accepted (its handler: no local activity before it). */
  rejectConcluded?: boolean;
  pendingReconcile?: ReconcileAction;
  /** The install is being ended (failed, not open, expired, or rejected by an operator): its rejection, undo and the
   * destroy of its credentials run. A reject accepted now would stop that rejection, then find the credentials gone. */
  endingInstall?: boolean;
  /** The update's phase has ended and is being concluded (how, in words): a reject accepted now would send a rejection
   * after it, unread, concluding what Talkdesk opened since (validator only; a failed update's own rejection, while it
   * is being sent, may still be replaced by the operator's). */
  endingUpdate?: string;
  handledThisRun: number;
  graceUntil?: number;
  /** Patch new-life-rotation-waits-before-uninstall, asked at the run's first rotation or uninstall (earlier-life.ts). */
  rotationWaits?: boolean;
  /** Patch uninstall-adopts-rotation-during-acknowledgement, asked once a rotation to adopt is found (uninstall.ts). */
  adoptsDuringAcknowledgement?: boolean;
  /** A new life's wait for its install (new-life-waits-for-its-install): its own, per earlier end (the uninstall's time). */
  newLifeGrace?: { after: string; until: number };
  /** The app.installed event this run began, so that a reject can import its credentials if the install had not yet. */
  installEvent?: LifecycleEvent;
  /** The app id the store had when this run began (a finished installation's run keeps it in its record). */
  storedAccount?: { accountId?: string; accountName?: string }; // a finished installation's: search attributes only
  storedAppId?: string;
  /** The handled ids last written to the store, to know whether the record is behind. */
  recordedHandled?: string;
  /** The event being applied: what a continue-as-new mid-phase hands over. */
  applying?: { event: LifecycleEvent; late: boolean };
  /** The event whose phase this run re-entered (carried over mid-phase): its phase has begun already. */
  resumedEventId?: string;
  /** The rotation or uninstall whose acknowledgement this run, or one it re-entered from, has sent (carried by a cut: ResumePoint). */
  ackBegunFor?: string;
  /** The running phase has begun its state call: its own work before it is done (markActive may end it, before `mark-active-retries-state-call`). */
  stateCallBegun?: boolean;
  /** The state call's step is running (an attempt or its backoff): what markActive hurries (`mark-active-retries-state-call`). */
  stateCallRunning?: boolean;
  /** A markActive reached the running phase (before its state call, or at any step under `mark-active-retries-state-call`): Talkdesk
   * showed the operation completed, so the state call reads Talkdesk first even on a first attempt (a blind one would get 409). */
  completedAtTalkdesk?: boolean;
  /** Resumed by reconciliation from a record left mid-phase (its workflow lost): the lost run may have sent that
   * phase's state call, so every state call of the run reads first (an install approval Talkdesk shows completed, or
   * pending for an operation opened since, is not sent again; an update's `pending` cannot tell one update from the next). */
  resumedMidPhase?: boolean;
  /** A new run is loading its stored record (`resumeFromStore`): until it has, a lost run's phase is not known yet. */
  loadingStored?: boolean;
  /** Resumed so from a record left `updating`: the update under way (its change may be applied), by id when recorded. */
  resumedUpdate?: { eventId?: string; createdAt?: string };
  /** Resumed so from a record left `uninstalling`: the lost run may have sent the uninstall's acknowledgement. */
  /** The uninstall whose acknowledgement an earlier run (lost, or cut by continue-as-new) may have landed: `resent`. */
  uninstallAckSentFor?: string;
  resumedUninstalling?: boolean;
  /** An operator's reject stopped the install after its approval began (patch operator-reject-reads-talkdesk-first):
   * Talkdesk may have taken that approval, its answer lost, so the reject reads Talkdesk before undoing anything. */
  rejectAfterApproval?: boolean;
  /** That reject's state call reads Talkdesk before its first attempt too: a blind reject would conclude an operation
   * Talkdesk opened since (one state endpoint concludes whatever is open). Activity input only. */
  rejectReadsFirst?: boolean;
  /** A call made again with a queued rotation's set once Talkdesk refused the active one (queued-rotation.ts): an earlier
   * attempt of it may have landed, its answer lost, so a state call reads first (a blind one would conclude whatever
   * Talkdesk opened since). Activity input only. */
  remadeAfterAdoption?: boolean;
  /** An operator's reject stopped the update after its approval began (patch operator-reject-of-update-reads-talkdesk-first):
   * nothing reverted yet. The reject reads Talkdesk first: `keep` an update Talkdesk shows completed, else `revert` it. */
  updateRejectedAfterApproval?: { revert: () => Promise<void>; keep: () => void; deadline: number };
  /** A phase that reached its deadline reads Talkdesk once more (patch expired-phase-reads-talkdesk-last): what it
   * shows decides whether the phase is kept or undone, so an operator's reject is refused meanwhile (validator only). */
  readingAtDeadline?: boolean;
  /** The last update this run began was late (older than one applied): an operator's reject of it sends nothing that
   * Talkdesk shows open, which is a newer operation (activity input `late` only). */
  updateLate?: boolean;
  /** The event of the last update this run began: an operator's reject of it (its state call and last read, outside the
   * update's phase) is judged against what was delivered since (a newer operation queued: activity input `late` only). */
  updateEvent?: LifecycleEvent;
  /** That late update's calls are keyed by the newest update applied (update.ts): what a continue-as-new carries. */
  updateLateKeyed?: boolean;
  /** Carried so by the run this one continued mid-phase (ResumePoint.lateKeyed; absent: an older run's, not keyed so). */
  resumedLateKeyed?: boolean;
  /** The update (its event id) that failed and whose own rejection ended other than stopped by an operator's reject
   * (sent, found concluded, or given up): that reject is not applied after it (operator-reject-after-own-end-not-applied). */
  updateRejectionEnded?: string;
}

/**
 * Whether a state call reads Talkdesk's state first (`checkFirst`). A retry: its earlier attempt may have landed. An
 * uninstall on its first attempt too: the approval of the phase before it may have concluded it (Talkdesk opened the
 * uninstall before its event was delivered), and a blind call would be a stray 409. A phase re-entered after
 * continue-as-new may have sent it in the previous run; so may a lost workflow's phase that reconciliation resumed: a
 * blind approval would conclude whatever Talkdesk opened since. So may a call made again after an adoption.
 */
export function readsFirst(run: RunState, concludes: 'install' | 'update' | 'uninstall' | undefined, attempt: number): boolean {
  return (
    attempt > 1 ||
    concludes === 'uninstall' ||
    run.resumedEventId !== undefined ||
    run.completedAtTalkdesk === true ||
    run.resumedMidPhase === true ||
    run.rejectReadsFirst === true ||
    run.remadeAfterAdoption === true
  );
}

/**
 * The update whose state call or last read is being made: the one being applied, else the last one this run began (an
 * operator's reject of it makes the only such calls outside an update's phase).
 */
export const updateInView = (run: RunState): LifecycleEvent | undefined => run.applying?.event ?? run.updateEvent;
