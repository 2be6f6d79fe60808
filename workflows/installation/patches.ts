import { patched } from '@temporalio/workflow';

/**
 * Patch: every patch of the installation workflow is decided once, in the run's first workflow
 * task, before any local activity. A run that records this marker takes every patched path and
 * records no other marker; runs recorded before it decide each patch where its code stands.
 *
 * Why: a patch decided right after a local activity could not be replayed when the core
 * completed that activity's workflow task with its marker but none of the code after it (a run
 * evicted with the activity in flight, seen under cache pressure and on a loaded machine): on
 * replay the code goes on in the earlier task, asks for the patch before the core has announced
 * its marker, takes the old path, and fails with "Non-deprecated patch marker encountered ...
 * but there is no corresponding change command" (docs/versioning.md, "Patches decided at start").
 */
export const PATCHES_DECIDED_AT_START = 'patches-decided-at-start';

/** Decides PATCHES_DECIDED_AT_START (call it first, before any handler or activity) and returns the patch check for the run. */
export function decidePatchesAtStart(): (patchId: string) => boolean {
  const atStart = patched(PATCHES_DECIDED_AT_START);
  return (patchId) => atStart || patched(patchId);
}
