// The generations of patches decided at a run's start: each marker and the patches it decides (patches.ts decides them).

/**
 * Patch: the installation workflow's patches of DECIDED_AT_START are decided once, in the run's
 * first workflow task, before any local activity. A run that records this marker takes each of
 * their paths and records no marker of theirs; runs recorded before it decide each patch where its
 * code stands.
 *
 * Why: a patch decided right after a local activity could not be replayed when the core
 * completed that activity's workflow task with its marker but none of the code after it (a run
 * evicted with the activity in flight, seen under cache pressure and on a loaded machine): on
 * replay the code goes on in the earlier task, asks for the patch before the core has announced
 * its marker, takes the old path, and fails with "Non-deprecated patch marker encountered ...
 * but there is no corresponding change command" (docs/versioning.md, "Patches decided at start").
 */
export const PATCHES_DECIDED_AT_START = 'patches-decided-at-start';

/**
 * The patches this marker decides: the workflow's patches when it was added. FROZEN: a run that
 * recorded the marker took exactly these paths, so a patch added later must not be answered by it
 * (it is decided where its code stands, or by a next generation of its own).
 */
export const DECIDED_AT_START: readonly string[] = Object.freeze([
  'state-call-waits-for-cancellation',
  'phase-deadline-margin',
  'store-steps-local',
  'continue-as-new-mid-phase',
  'store-step-bounded-local',
  'interrupt-at-phase-start',
  'uninstall-interrupts-any-phase',
  'late-events-by-kind',
  'operator-reject-uses-install-event',
  'trial-record-interruptible',
  'record-handled-before-completing',
]);

/** Patch: the next generation, deciding DECIDED_AT_START_2 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_2 = 'patches-decided-at-start-2';

/**
 * The patches the second generation decides: added after the first set was frozen. Runs recorded
 * before its marker ask them where their code stands (before the last store write of a run, in the
 * reject handler), never right after a local activity. FROZEN like DECIDED_AT_START.
 */
export const DECIDED_AT_START_2: readonly string[] = Object.freeze([
  'drain-queue-before-completing',
  'operator-reject-concluded-operations',
]);

/** Patch: the third generation, deciding DECIDED_AT_START_3 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_3 = 'patches-decided-at-start-3';

/**
 * The patches the third generation decides: the reconcile handler's and the update revert's (asked
 * where their code stands until then), and the rotation's two (rotation.ts). FROZEN like DECIDED_AT_START.
 */
export const DECIDED_AT_START_3: readonly string[] = Object.freeze([
  'mark-active-only-install-or-update',
  'mark-active-after-state-call',
  'mark-active-retries-state-call',
  'revert-update-stopped-while-applying',
  'uninstall-adopts-compromised-rotation',
  'rotation-grace-from-event',
  'discard-ignored-credentials',
  'compromised-rotation-keeps-proven-set',
]);

/** Patch: the fourth generation, deciding DECIDED_AT_START_4 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_4 = 'patches-decided-at-start-4';

/**
 * The patches the fourth generation decides, each asked right after an activity that may be local
 * (so ONLY_DECIDED_AT_START: runs started before it keep the old paths until they continue as new):
 * a trial event queued ahead of an uninstall is superseded by it (apply.ts), and an operator reject
 * that stopped a phase after its approval began reads Talkdesk before undoing (operator.ts). FROZEN.
 */
export const DECIDED_AT_START_4: readonly string[] = Object.freeze([
  'trial-superseded-by-queued-uninstall',
  'operator-reject-reads-talkdesk-first',
]);

/** Patch: the fifth generation, deciding DECIDED_AT_START_5 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_5 = 'patches-decided-at-start-5';

/**
 * The patches the fifth generation decides, asked right after whatever ended before a rotation or a late
 * event began (perhaps a local activity), so ONLY_DECIDED_AT_START: a rotation handled after its seven days
 * imports and proves its new set (rotation.ts); an uninstall older than a reinstall spares it (late.ts). FROZEN.
 */
export const DECIDED_AT_START_5: readonly string[] = Object.freeze([
  'rotation-imported-after-its-deadline',
  'stale-uninstall-spares-reinstall',
]);

/** Patch: the sixth generation, deciding DECIDED_AT_START_6 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_6 = 'patches-decided-at-start-6';

/**
 * The patches the sixth generation decides, asked where an interrupted update ends (perhaps right after a local
 * activity), so ONLY_DECIDED_AT_START: an operator reject that stopped an update after its approval began reads
 * Talkdesk before reverting it (update.ts, operator.ts). FROZEN.
 */
export const DECIDED_AT_START_6: readonly string[] = Object.freeze(['operator-reject-of-update-reads-talkdesk-first']);

/** Patch: the seventh generation, deciding DECIDED_AT_START_7 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_7 = 'patches-decided-at-start-7';

/**
 * The patches the seventh generation decides, asked where an install or update expires (perhaps right after a
 * local activity), so ONLY_DECIDED_AT_START: a phase whose approval may have landed reads Talkdesk once more
 * before it is undone, and is kept when Talkdesk shows it concluded (common.ts). FROZEN.
 */
export const DECIDED_AT_START_7: readonly string[] = Object.freeze(['expired-phase-reads-talkdesk-last']);

/** Patch: the eighth generation, deciding DECIDED_AT_START_8 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_8 = 'patches-decided-at-start-8';

/**
 * The patches the eighth generation decides, each asked right after what may be a local activity (where a phase or an
 * operator's reject ends, where an update begins), so ONLY_DECIDED_AT_START: an install or update that fails with an
 * uninstall queued yields to it instead of sending its rejection (common.ts, update.ts), and no rejection is sent while
 * an uninstall waits (common.ts); an operator's reject is sent within the stopped operation's seven days (operator.ts);
 * an update a lost run left under way is reverted when it is stopped before its body runs again (update.ts); a reject
 * that read Talkdesk first keeps an install shown with an operation opened since by any of its names (operator.ts). FROZEN.
 */
export const DECIDED_AT_START_8: readonly string[] = Object.freeze([
  'failed-phase-yields-to-queued-uninstall',
  'operator-reject-within-operation-deadline',
  'resumed-update-reverted-when-stopped',
  'rejection-yields-to-queued-uninstall',
  'operator-reject-reads-open-state-names',
]);

/** Patch: the ninth generation, deciding DECIDED_AT_START_9 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_9 = 'patches-decided-at-start-9';

/**
 * The patches the ninth generation decides, each asked right after what may be a local activity (where a phase or an
 * event ends), so ONLY_DECIDED_AT_START: undos, deprovisions and reverts run with the heartbeating activities' long
 * timeout and wait for their cancellation (common.ts, update.ts), as the docs said they did; a trial record waits for
 * its attempt to end when an uninstall stops it (trial.ts); a late rotation with an uninstall queued, or in a final
 * phase, is not acknowledged (late.ts); an update, rotation or trial event of an earlier life of a same-id reinstall
 * (older than the applied install) is over (late.ts); a trial record failing for an hour gives way to a queued install, update or rotation
 * (trial.ts). FROZEN.
 */
export const DECIDED_AT_START_9: readonly string[] = Object.freeze([
  'account-undo-steps-heartbeat',
  'trial-record-waits-for-cancellation',
  'late-rotation-yields-to-uninstall',
  'earlier-life-events-over',
  'trial-record-yields-to-queued-operation',
]);

/** Patch: the tenth generation, deciding DECIDED_AT_START_10 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_10 = 'patches-decided-at-start-10';

/**
 * The patches the tenth generation decides, ONLY_DECIDED_AT_START (asked where an event is taken from the queue, where
 * a rotation ends, or where a run loads the record, after what may be a local activity): an install of an earlier life
 * of a same-id reinstall (older than the applied install) is over, and a failing trial record does not give way to it
 * (install.ts, late.ts, trial.ts); a routine rotation an uninstall supersedes past Talkdesk's grace gives the uninstall
 * its credentials, and one adopted so counts as applied (rotation.ts); a run for an event after the installation
 * finished knows its newest install and trial event (workflow.ts, late.ts).
 */
export const DECIDED_AT_START_10: readonly string[] = Object.freeze([
  'earlier-life-install-over',
  'uninstall-adopts-routine-rotation',
  'finished-run-knows-event-times',
]);

/** Patch: the eleventh generation, deciding DECIDED_AT_START_11 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_11 = 'patches-decided-at-start-11';

/**
 * The patches the eleventh generation decides, ONLY_DECIDED_AT_START (asked in the `retryNow` handler, or where a
 * rotation's phase ends, each perhaps right after a local activity): a `retryNow` during a step's attempt makes its
 * retry follow at once (handlers.ts); a rotation re-entered past its deadline with an uninstall queued yields to it
 * instead of importing late (rotation.ts); an operator's reject whose operation ended first is not applied (operator.ts).
 */
export const DECIDED_AT_START_11: readonly string[] = Object.freeze([
  'retry-now-follows-attempt',
  'expired-rotation-yields-to-queued-uninstall',
  'operator-reject-after-the-end-not-applied',
]);

/** Patch: the twelfth generation, deciding DECIDED_AT_START_12 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_12 = 'patches-decided-at-start-12';

/**
 * The patches the twelfth generation decides, ONLY_DECIDED_AT_START (asked where a phase has ended, each perhaps right
 * after a local activity): an operator's reject whose update ended by itself otherwise (rejected on its own, yielding to
 * an uninstall) is not applied (operator.ts); an install an uninstall interrupted before it held its own set imports it
 * for the uninstall to answer Talkdesk with (install.ts); an uninstall acknowledges with a rotation's set queued while it
 * ran (uninstall.ts); an earlier life's uninstall judged over, or found in a resumed run's record, counts as that life's
 * end for its late trial events (late.ts, handlers.ts, workflow.ts).
 */
export const DECIDED_AT_START_12: readonly string[] = Object.freeze([
  'operator-reject-after-own-end-not-applied',
  'interrupted-install-imports-to-answer',
  'uninstall-adopts-rotation-queued-meanwhile',
  'earlier-life-uninstall-known',
]);

/** Patch: the thirteenth generation, deciding DECIDED_AT_START_13 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_13 = 'patches-decided-at-start-13';

/**
 * The patches the thirteenth generation decides, ONLY_DECIDED_AT_START (asked where an install is taken from the queue,
 * perhaps right after a local activity): an install skipped for a queued uninstall marks its time as its life's start
 * (apply.ts), so that an earlier life's rotation or uninstall delivered later is judged over, not adopted; a rotation
 * whose event carries no `compromised` flag gives a superseding uninstall its set within the grace too (rotation.ts); in
 * a run for an uninstalled installation, an event newer than the uninstall waits for its (same-id reinstall's) install
 * as a first install's events do (earlier-life.ts, workflow.ts).
 */
export const DECIDED_AT_START_13: readonly string[] = Object.freeze([
  'skipped-install-begins-its-life',
  'unflagged-rotation-adopted-for-uninstall',
  'new-life-waits-for-its-install',
]);

/** Patch: the fourteenth generation, deciding DECIDED_AT_START_14 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_14 = 'patches-decided-at-start-14';

/**
 * The patches the fourteenth generation decides, ONLY_DECIDED_AT_START (asked where the queue's head is taken, or right
 * after an ending install's credentials are destroyed, each perhaps right after a local activity): in a run for an
 * uninstalled installation, a new life's uninstall waits for its install even while a newer install is queued
 * (earlier-life.ts, workflow.ts); an ending install no longer names its destroyed set (common.ts).
 */
export const DECIDED_AT_START_14: readonly string[] = Object.freeze([
  'new-life-waits-past-newer-install',
  'ended-install-forgets-destroyed-set',
]);

/** Patch: the fifteenth generation, deciding DECIDED_AT_START_15 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_15 = 'patches-decided-at-start-15';

/**
 * The patches the fifteenth generation decides, ONLY_DECIDED_AT_START: a late update's calls keyed by the newest update
 * applied too (update.ts; a run continued as new mid-phase keeps the key its phase began with), and an operator's reject
 * of an update or an install whose approval may have landed reading Talkdesk once more when its own run reaches its
 * deadline unanswered (operator.ts; asked right after a phase's record, a local activity).
 */
export const DECIDED_AT_START_15: readonly string[] = Object.freeze([
  'late-update-keyed-by-newest-applied',
  'operator-reject-of-update-reads-at-deadline',
  'operator-reject-of-install-reads-at-deadline',
]);

/** Patch: the sixteenth generation, deciding DECIDED_AT_START_16 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_16 = 'patches-decided-at-start-16';

/**
 * The patches the sixteenth generation decides: two ONLY_DECIDED_AT_START (asked where a late rotation's phase ends, or
 * where an event is taken from the queue, each perhaps right after a local activity): a compromised rotation older than
 * one applied destroys the retiring sets issued before it, which Talkdesk revoked when it rotated (rotation.ts); a trial
 * event of the same second as the trial event applied, but earlier in the lifecycle's order, is late (late.ts). And
 * `routine-rotation-keeps-proven-set`, added before it and asked where its code stands (where a rotation ends, which
 * can be right after a failed switch, a local activity): runs recorded before this generation still ask it there (its
 * marker), new runs decide it at start and record none there.
 */
export const DECIDED_AT_START_16: readonly string[] = Object.freeze([
  'late-compromised-rotation-destroys-revoked-sets',
  'same-second-trial-event-late',
  'routine-rotation-keeps-proven-set',
]);

/** Patch: the seventeenth generation, deciding DECIDED_AT_START_17 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_17 = 'patches-decided-at-start-17';

/**
 * The patches the seventeenth generation decides, ONLY_DECIDED_AT_START: a deprovision on Talkdesk's `revoked` marks the
 * installation's end at the state's time, and an uninstall no newer than the end is that end's, ignored (earlier-life.ts;
 * asked where an event is taken from the queue or a reconcile action runs, each perhaps right after a local activity);
 * and before the first install, an install queued behind older events (no uninstall among them) is taken first
 * (first-install.ts; asked where the next event is taken).
 */
export const DECIDED_AT_START_17: readonly string[] = Object.freeze(['revoked-state-ends-its-life', 'first-install-taken-ahead']);

/** Patch: the eighteenth generation, deciding DECIDED_AT_START_18 at the start of a run in the same way. */
export const PATCHES_DECIDED_AT_START_18 = 'patches-decided-at-start-18';

/**
 * The patches the eighteenth generation decides, ONLY_DECIDED_AT_START: a compromised rotation applied in order
 * destroys the retiring sets issued before it, as a late one does (rotation.ts; asked right after the switch, a local
 * activity); an install's or update's Talkdesk call refused for good with a set a queued rotation revoked takes that
 * rotation's set and is made again (queued-rotation.ts; asked after the failed call).
 */
export const DECIDED_AT_START_18: readonly string[] = Object.freeze([
  'compromised-rotation-destroys-retiring-sets',
  'talkdesk-call-adopts-queued-rotation',
]);
