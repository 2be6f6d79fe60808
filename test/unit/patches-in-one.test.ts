import assert from 'node:assert/strict';
import {
  DECIDED_AT_START,
  DECIDED_AT_START_2,
  DECIDED_AT_START_14,
  ONLY_DECIDED_AT_START,
  DECIDED_AT_START_15,
  PATCHES_DECIDED_AT_START_1_TO_14,
  PATCHES_DECIDED_AT_START_1_TO_15,
  decidePatchesAtStart,
  markersDeciding,
} from '../../workflows/installation/patches';

/** One marker for the first fifteen generations (workflows/installation/patches.ts): what a new run records at its start. */
describe('patches decided at start: the markers of the first fourteen and fifteen generations', () => {
  const replayOf = (markers: string[]) => {
    const asked: string[] = [];
    return { asked, ask: (id: string) => (asked.push(id), markers.includes(id)) };
  };

  it('a new run records the marker of the first fifteen alone and asks nothing else; every patch they decide is on', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_15]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_2, ...ONLY_DECIDED_AT_START]) assert.equal(isPatched(id), true, id);
    assert.deepEqual(sdk.asked, [PATCHES_DECIDED_AT_START_1_TO_15]);
    assert.equal(isPatched('a-later-patch'), false, 'a patch of no generation is asked where its code stands');
    assert.deepEqual(sdk.asked, [PATCHES_DECIDED_AT_START_1_TO_15, 'a-later-patch']);
  });

  it('a run recorded with the marker of the first fourteen replays as before: the fifteenth generation asked by its own (absent)', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_14]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_14]) assert.equal(isPatched(id), true, id);
    for (const id of DECIDED_AT_START_15) assert.equal(isPatched(id), false, id);
    assert.deepEqual(sdk.asked, [PATCHES_DECIDED_AT_START_1_TO_15, PATCHES_DECIDED_AT_START_1_TO_14, 'patches-decided-at-start-15']);
  });

  it("names it among the markers deciding each of their patches, beside the generation's own (the corpus checks ask it)", () => {
    const [patch] = DECIDED_AT_START_14;
    assert.ok(patch);
    assert.deepEqual(markersDeciding(patch), [
      'patches-decided-at-start-14',
      PATCHES_DECIDED_AT_START_1_TO_15,
      PATCHES_DECIDED_AT_START_1_TO_14,
    ]);
    const [fifteenth] = DECIDED_AT_START_15;
    assert.ok(fifteenth);
    assert.deepEqual(markersDeciding(fifteenth), ['patches-decided-at-start-15', PATCHES_DECIDED_AT_START_1_TO_15]);
    assert.deepEqual(markersDeciding('a-later-patch'), []);
  });
});
