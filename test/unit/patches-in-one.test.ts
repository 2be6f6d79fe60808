import assert from 'node:assert/strict';
import {
  DECIDED_AT_START,
  DECIDED_AT_START_2,
  DECIDED_AT_START_14,
  ONLY_DECIDED_AT_START,
  DECIDED_AT_START_15,
  DECIDED_AT_START_16,
  PATCHES_DECIDED_AT_START_1_TO_14,
  PATCHES_DECIDED_AT_START_1_TO_15,
  PATCHES_DECIDED_AT_START_1_TO_16,
  decidePatchesAtStart,
  markersDeciding,
} from '../../workflows/installation/patches';

/** One marker for the first sixteen generations (workflows/installation/patches.ts): what a new run records at its start. */
describe('patches decided at start: the markers of the first fourteen, fifteen and sixteen generations', () => {
  const replayOf = (markers: string[]) => {
    const asked: string[] = [];
    return { asked, ask: (id: string) => (asked.push(id), markers.includes(id)) };
  };
  const ALL_THREE = [PATCHES_DECIDED_AT_START_1_TO_16, PATCHES_DECIDED_AT_START_1_TO_15, PATCHES_DECIDED_AT_START_1_TO_14];

  it('a new run records the marker of the first sixteen alone and asks nothing else; every patch they decide is on', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_16]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_2, ...ONLY_DECIDED_AT_START]) assert.equal(isPatched(id), true, id);
    assert.deepEqual(sdk.asked, [PATCHES_DECIDED_AT_START_1_TO_16]);
    assert.equal(isPatched('a-later-patch'), false, 'a patch of no generation is asked where its code stands');
    assert.deepEqual(sdk.asked, [PATCHES_DECIDED_AT_START_1_TO_16, 'a-later-patch']);
  });

  it('a run recorded with the marker of the first fifteen replays as before: the sixteenth generation asked by its own (absent)', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_15]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_15]) assert.equal(isPatched(id), true, id);
    // Those it decides only (routine-rotation-keeps-proven-set is asked where it stands: patches-sixteenth.test.ts).
    for (const id of DECIDED_AT_START_16.filter((p) => ONLY_DECIDED_AT_START.includes(p))) assert.equal(isPatched(id), false, id);
    assert.deepEqual(sdk.asked, [PATCHES_DECIDED_AT_START_1_TO_16, PATCHES_DECIDED_AT_START_1_TO_15, 'patches-decided-at-start-16']);
  });

  it('a run recorded with the marker of the first fourteen replays as before: the fifteenth and sixteenth asked by their own (absent)', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_14]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_14]) assert.equal(isPatched(id), true, id);
    for (const id of [...DECIDED_AT_START_15, ...DECIDED_AT_START_16].filter((p) => ONLY_DECIDED_AT_START.includes(p)))
      assert.equal(isPatched(id), false, id);
    assert.deepEqual(sdk.asked, [...ALL_THREE, 'patches-decided-at-start-15', 'patches-decided-at-start-16']);
  });

  it("names them among the markers deciding each of their patches, beside the generation's own (the corpus checks ask it)", () => {
    const [patch] = DECIDED_AT_START_14;
    assert.ok(patch);
    assert.deepEqual(markersDeciding(patch), ['patches-decided-at-start-14', ...ALL_THREE]);
    const [fifteenth] = DECIDED_AT_START_15;
    assert.ok(fifteenth);
    assert.deepEqual(markersDeciding(fifteenth), [
      'patches-decided-at-start-15',
      PATCHES_DECIDED_AT_START_1_TO_16,
      PATCHES_DECIDED_AT_START_1_TO_15,
    ]);
    const [sixteenth] = DECIDED_AT_START_16;
    assert.ok(sixteenth);
    assert.deepEqual(markersDeciding(sixteenth), ['patches-decided-at-start-16', PATCHES_DECIDED_AT_START_1_TO_16]);
    assert.deepEqual(markersDeciding('a-later-patch'), []);
  });
});
