import assert from 'node:assert/strict';
import {
  DECIDED_AT_START,
  DECIDED_AT_START_2,
  DECIDED_AT_START_14,
  ONLY_DECIDED_AT_START,
  DECIDED_AT_START_15,
  DECIDED_AT_START_16,
  DECIDED_AT_START_17,
  DECIDED_AT_START_18,
  PATCHES_DECIDED_AT_START_1_TO_14,
  PATCHES_DECIDED_AT_START_1_TO_15,
  PATCHES_DECIDED_AT_START_1_TO_16,
  PATCHES_DECIDED_AT_START_1_TO_17,
  PATCHES_DECIDED_AT_START_1_TO_18,
  decidePatchesAtStart,
  markersDeciding,
} from '../../workflows/installation/patches';

/** One marker for the first eighteen generations (workflows/installation/patches.ts): what a new run records at its start. */
describe('patches decided at start: the markers of the first fourteen to eighteen generations', () => {
  const replayOf = (markers: string[]) => {
    const asked: string[] = [];
    return { asked, ask: (id: string) => (asked.push(id), markers.includes(id)) };
  };
  const ALL_FIVE = [
    PATCHES_DECIDED_AT_START_1_TO_18,
    PATCHES_DECIDED_AT_START_1_TO_17,
    PATCHES_DECIDED_AT_START_1_TO_16,
    PATCHES_DECIDED_AT_START_1_TO_15,
    PATCHES_DECIDED_AT_START_1_TO_14,
  ];
  /** Those a generation decides only (routine-rotation-keeps-proven-set is asked where it stands: patches-sixteenth.test.ts). */
  const onlyAtStart = (...sets: (readonly string[])[]) => sets.flat().filter((p) => ONLY_DECIDED_AT_START.includes(p));
  const own = (...n: number[]) => n.map((i) => `patches-decided-at-start-${i}`);

  it('a new run records the marker of the first eighteen alone and asks nothing else; every patch they decide is on', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_18]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_2, ...ONLY_DECIDED_AT_START]) assert.equal(isPatched(id), true, id);
    assert.deepEqual(sdk.asked, [PATCHES_DECIDED_AT_START_1_TO_18]);
    assert.equal(isPatched('a-later-patch'), false, 'a patch of no generation is asked where its code stands');
    assert.deepEqual(sdk.asked, [PATCHES_DECIDED_AT_START_1_TO_18, 'a-later-patch']);
  });

  it('a run recorded with the marker of the first seventeen replays as before: the eighteenth generation asked by its own (absent)', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_17]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_17]) assert.equal(isPatched(id), true, id);
    for (const id of onlyAtStart(DECIDED_AT_START_18)) assert.equal(isPatched(id), false, id);
    assert.deepEqual(sdk.asked, [...ALL_FIVE.slice(0, 2), ...own(18)]);
  });

  it('a run recorded with the marker of the first sixteen replays as before: the seventeenth and eighteenth asked by their own (absent)', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_16]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_16]) assert.equal(isPatched(id), true, id);
    for (const id of onlyAtStart(DECIDED_AT_START_17, DECIDED_AT_START_18)) assert.equal(isPatched(id), false, id);
    assert.deepEqual(sdk.asked, [...ALL_FIVE.slice(0, 3), ...own(17, 18)]);
  });

  it('a run recorded with the marker of the first fifteen replays as before: the sixteenth to eighteenth asked by their own (absent)', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_15]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_15]) assert.equal(isPatched(id), true, id);
    for (const id of onlyAtStart(DECIDED_AT_START_16, DECIDED_AT_START_17, DECIDED_AT_START_18)) assert.equal(isPatched(id), false, id);
    assert.deepEqual(sdk.asked, [...ALL_FIVE.slice(0, 4), ...own(16, 17, 18)]);
  });

  it('a run recorded with the marker of the first fourteen replays as before: the fifteenth to eighteenth asked by their own (absent)', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START_1_TO_14]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_14]) assert.equal(isPatched(id), true, id);
    for (const id of onlyAtStart(DECIDED_AT_START_15, DECIDED_AT_START_16, DECIDED_AT_START_17, DECIDED_AT_START_18))
      assert.equal(isPatched(id), false, id);
    assert.deepEqual(sdk.asked, [...ALL_FIVE, ...own(15, 16, 17, 18)]);
  });

  it("names them among the markers deciding each of their patches, beside the generation's own (the corpus checks ask it)", () => {
    const [patch] = DECIDED_AT_START_14;
    assert.ok(patch);
    assert.deepEqual(markersDeciding(patch), [...own(14), ...ALL_FIVE]);
    const [fifteenth] = DECIDED_AT_START_15;
    assert.ok(fifteenth);
    assert.deepEqual(markersDeciding(fifteenth), [...own(15), ...ALL_FIVE.slice(0, 4)]);
    const [sixteenth] = DECIDED_AT_START_16;
    assert.ok(sixteenth);
    assert.deepEqual(markersDeciding(sixteenth), [...own(16), ...ALL_FIVE.slice(0, 3)]);
    const [seventeenth] = DECIDED_AT_START_17;
    assert.ok(seventeenth);
    assert.deepEqual(markersDeciding(seventeenth), [...own(17), ...ALL_FIVE.slice(0, 2)]);
    const [eighteenth] = DECIDED_AT_START_18;
    assert.ok(eighteenth);
    assert.deepEqual(markersDeciding(eighteenth), [...own(18), PATCHES_DECIDED_AT_START_1_TO_18]);
    assert.deepEqual(markersDeciding('a-later-patch'), []);
  });
});
