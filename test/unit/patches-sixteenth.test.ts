import assert from 'node:assert/strict';
import { SAME_SECOND_TRIAL_EVENT_LATE } from '../../workflows/installation/late';
import {
  DECIDED_AT_START_16,
  ONLY_DECIDED_AT_START,
  PATCHES_DECIDED_AT_START_1_TO_15,
  PATCHES_DECIDED_AT_START_1_TO_16,
  PATCHES_DECIDED_AT_START_1_TO_17,
  PATCHES_DECIDED_AT_START_1_TO_18,
  decidePatchesAtStart,
} from '../../workflows/installation/patches';
import { ROUTINE_ROTATION_KEEPS_PROVEN_SET } from '../../workflows/installation/rotation';
import { LATE_COMPROMISED_ROTATION_DESTROYS_REVOKED_SETS } from '../../workflows/installation/rotation-late';

/** The sixteenth generation (workflows/installation/patch-generations.ts): two new patches, and one taken in. */
describe('patches decided at start: the sixteenth generation', () => {
  const replayOf = (markers: string[]) => {
    const asked: string[] = [];
    return { asked, ask: (id: string) => (asked.push(id), markers.includes(id)) };
  };
  const NEW = [LATE_COMPROMISED_ROTATION_DESTROYS_REVOKED_SETS, SAME_SECOND_TRIAL_EVENT_LATE];

  it('decides its two new patches and routine-rotation-keeps-proven-set at start, asking none of them (frozen)', () => {
    assert.ok(Object.isFrozen(DECIDED_AT_START_16));
    assert.deepEqual([...DECIDED_AT_START_16], [...NEW, ROUTINE_ROTATION_KEEPS_PROVEN_SET]);
    // A new run (the marker of the first eighteen), and ones recorded with the markers of the first seventeen and sixteen.
    const asked = {
      [PATCHES_DECIDED_AT_START_1_TO_18]: [PATCHES_DECIDED_AT_START_1_TO_18],
      [PATCHES_DECIDED_AT_START_1_TO_17]: [
        PATCHES_DECIDED_AT_START_1_TO_18,
        PATCHES_DECIDED_AT_START_1_TO_17,
        'patches-decided-at-start-18',
      ],
      [PATCHES_DECIDED_AT_START_1_TO_16]: [
        PATCHES_DECIDED_AT_START_1_TO_18,
        PATCHES_DECIDED_AT_START_1_TO_17,
        PATCHES_DECIDED_AT_START_1_TO_16,
        'patches-decided-at-start-17',
        'patches-decided-at-start-18',
      ],
    };
    for (const [marker, expected] of Object.entries(asked)) {
      const sdk = replayOf([marker]);
      const isPatched = decidePatchesAtStart(sdk.ask);
      for (const id of DECIDED_AT_START_16) assert.equal(isPatched(id), true, id);
      assert.deepEqual(sdk.asked, expected, 'no marker of their own');
    }
  });

  it('a run recorded before it never asks the two new ones (old paths), and asks routine-rotation-keeps-proven-set where it stands', () => {
    for (const id of NEW) assert.ok(ONLY_DECIDED_AT_START.includes(id), id);
    assert.ok(!ONLY_DECIDED_AT_START.includes(ROUTINE_ROTATION_KEEPS_PROVEN_SET));
    const before = replayOf([PATCHES_DECIDED_AT_START_1_TO_15]);
    const wasPatched = decidePatchesAtStart(before.ask);
    const askedAtStart = [...before.asked];
    for (const id of NEW) assert.equal(wasPatched(id), false, id);
    assert.deepEqual(before.asked, askedAtStart, 'never asked on their own');
    assert.equal(wasPatched(ROUTINE_ROTATION_KEEPS_PROVEN_SET), false, 'its marker absent there: the old path');
    assert.deepEqual(before.asked, [...askedAtStart, ROUTINE_ROTATION_KEEPS_PROVEN_SET], 'asked where its code stands');
    const withMarker = decidePatchesAtStart(replayOf([PATCHES_DECIDED_AT_START_1_TO_15, ROUTINE_ROTATION_KEEPS_PROVEN_SET]).ask);
    assert.equal(withMarker(ROUTINE_ROTATION_KEEPS_PROVEN_SET), true, 'its marker recorded there: the new path');
  });
});
