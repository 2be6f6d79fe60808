import { patched } from '@temporalio/workflow';

import * as g from './patch-generations';

export * from './patch-generations';

/**
 * Patches that only their generation's marker decides: a run recorded without it takes the old path
 * and never asks them. For a patch that would otherwise be asked right after a local activity (the
 * split above), in runs started before its generation: those keep the old behaviour until they
 * continue as new.
 */
export const ONLY_DECIDED_AT_START: readonly string[] = Object.freeze([
  'uninstall-adopts-compromised-rotation',
  'discard-ignored-credentials',
  'compromised-rotation-keeps-proven-set',
  ...g.DECIDED_AT_START_4,
  ...g.DECIDED_AT_START_5,
  ...g.DECIDED_AT_START_6,
  ...g.DECIDED_AT_START_7,
  ...g.DECIDED_AT_START_8,
  ...g.DECIDED_AT_START_9,
  ...g.DECIDED_AT_START_10,
  ...g.DECIDED_AT_START_11,
  ...g.DECIDED_AT_START_12,
  ...g.DECIDED_AT_START_13,
  ...g.DECIDED_AT_START_14,
  ...g.DECIDED_AT_START_15,
  // Not routine-rotation-keeps-proven-set: runs recorded before the sixteenth generation ask it where it stands.
  'late-compromised-rotation-destroys-revoked-sets',
  'same-second-trial-event-late',
  ...g.DECIDED_AT_START_17,
  ...g.DECIDED_AT_START_18,
]);

/** Each generation's marker and the patches it decides, oldest first. */
const GENERATIONS: readonly (readonly [string, readonly string[]])[] = [
  [g.PATCHES_DECIDED_AT_START, g.DECIDED_AT_START],
  [g.PATCHES_DECIDED_AT_START_2, g.DECIDED_AT_START_2],
  [g.PATCHES_DECIDED_AT_START_3, g.DECIDED_AT_START_3],
  [g.PATCHES_DECIDED_AT_START_4, g.DECIDED_AT_START_4],
  [g.PATCHES_DECIDED_AT_START_5, g.DECIDED_AT_START_5],
  [g.PATCHES_DECIDED_AT_START_6, g.DECIDED_AT_START_6],
  [g.PATCHES_DECIDED_AT_START_7, g.DECIDED_AT_START_7],
  [g.PATCHES_DECIDED_AT_START_8, g.DECIDED_AT_START_8],
  [g.PATCHES_DECIDED_AT_START_9, g.DECIDED_AT_START_9],
  [g.PATCHES_DECIDED_AT_START_10, g.DECIDED_AT_START_10],
  [g.PATCHES_DECIDED_AT_START_11, g.DECIDED_AT_START_11],
  [g.PATCHES_DECIDED_AT_START_12, g.DECIDED_AT_START_12],
  [g.PATCHES_DECIDED_AT_START_13, g.DECIDED_AT_START_13],
  [g.PATCHES_DECIDED_AT_START_14, g.DECIDED_AT_START_14],
  [g.PATCHES_DECIDED_AT_START_15, g.DECIDED_AT_START_15],
  [g.PATCHES_DECIDED_AT_START_16, g.DECIDED_AT_START_16],
  [g.PATCHES_DECIDED_AT_START_17, g.DECIDED_AT_START_17],
  [g.PATCHES_DECIDED_AT_START_18, g.DECIDED_AT_START_18],
];

/**
 * Patch: one marker deciding the first fourteen generations at once. Each generation's marker of its own is, with the
 * core's upsert of `TemporalChangeVersion` that follows every patch marker, two history events and a visibility write at
 * the start of every run: 28 events and 14 writes, in the bench's install and on the Temporal server's memory. A run
 * recorded without it (before it) asks the generations' markers one by one, as before. Generations added later are
 * asked after it, each by its own marker.
 */
export const PATCHES_DECIDED_AT_START_1_TO_14 = 'patches-decided-at-start-1-to-14';

/**
 * Patch: one marker deciding the first fifteen generations, recorded by every new run since the fifteenth: a generation
 * added no longer costs a marker at every run's start. A run recorded with the marker of the first fourteen (or
 * before it) is replayed as before, asking the fifteenth generation's own marker (absent: false).
 */
export const PATCHES_DECIDED_AT_START_1_TO_15 = 'patches-decided-at-start-1-to-15';

/**
 * Patch: one marker deciding the first sixteen generations, recorded by every new run since the sixteenth. A run
 * recorded with the marker of the first fifteen (or fourteen, or before them) is replayed as before, asking the
 * sixteenth generation's own marker (absent: false).
 */
export const PATCHES_DECIDED_AT_START_1_TO_16 = 'patches-decided-at-start-1-to-16';

/**
 * Patch: one marker deciding the first seventeen generations, recorded by every new run since the seventeenth. A run
 * recorded with the marker of the first sixteen (or fewer) is replayed as before, asking the seventeenth generation's
 * own marker (absent: false).
 */
export const PATCHES_DECIDED_AT_START_1_TO_17 = 'patches-decided-at-start-1-to-17';

/**
 * Patch: one marker deciding the first eighteen generations, recorded by every new run since the eighteenth. A run
 * recorded with the marker of the first seventeen (or fewer) is replayed as before, asking the eighteenth generation's
 * own marker (absent: false).
 */
export const PATCHES_DECIDED_AT_START_1_TO_18 = 'patches-decided-at-start-1-to-18';

/** The markers deciding several generations at once, newest first, and how many (the first that many) each decides. */
const IN_ONE: readonly (readonly [string, number])[] = [
  [PATCHES_DECIDED_AT_START_1_TO_18, 18],
  [PATCHES_DECIDED_AT_START_1_TO_17, 17],
  [PATCHES_DECIDED_AT_START_1_TO_16, 16],
  [PATCHES_DECIDED_AT_START_1_TO_15, 15],
  [PATCHES_DECIDED_AT_START_1_TO_14, 14],
];

/** The markers that decide `patchId` at start, if any does (the replay corpus checks ask it): its generation's, and the ones of all. */
export function markersDeciding(patchId: string): string[] {
  const at = GENERATIONS.findIndex(([, ids]) => ids.includes(patchId));
  if (at < 0) return [];
  return [GENERATIONS[at]![0], ...IN_ONE.filter(([, n]) => at < n).map(([marker]) => marker)];
}

/**
 * Decides every generation's marker (call it first, before any handler or activity) and returns
 * the patch check for the run. `ask` is the SDK's `patched` (a parameter for the unit test). A run
 * recorded before a generation's marker asks each of its patches where its code stands, except
 * those ONLY_DECIDED_AT_START (false). The marker of the first eighteen, recorded by every new run, is asked first: on
 * the replay of a run recorded before it, it is absent (false, nothing recorded), then those of the first seventeen,
 * sixteen, fifteen and fourteen, then the generations' own not decided by any.
 */
export function decidePatchesAtStart(ask: (patchId: string) => boolean = patched): (patchId: string) => boolean {
  // The newest of the markers of all first: a new run records it alone; a run recorded before it asks the older one.
  const inOne = IN_ONE.find(([marker]) => ask(marker))?.[1] ?? 0;
  const decided = GENERATIONS.filter(([marker], i) => i < inOne || ask(marker)).flatMap(([, ids]) => ids);
  return (patchId) => decided.includes(patchId) || (!ONLY_DECIDED_AT_START.includes(patchId) && ask(patchId));
}
