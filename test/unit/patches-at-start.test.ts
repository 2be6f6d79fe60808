import assert from 'node:assert/strict';
import { PHASE_DEADLINE_MARGIN, STORE_STEPS_LOCAL } from '../../workflows/installation/context';
import { RETRY_NOW_FOLLOWS_ATTEMPT } from '../../workflows/installation/handlers';
import { EARLIER_LIFE_INSTALL_OVER, INTERRUPTED_INSTALL_IMPORTS_TO_ANSWER } from '../../workflows/installation/install';
import { UNINSTALL_ADOPTS_ROTATION_QUEUED_MEANWHILE } from '../../workflows/installation/uninstall';
import {
  EARLIER_LIFE_UNINSTALL_KNOWN,
  NEW_LIFE_WAITS_FOR_ITS_INSTALL,
  NEW_LIFE_WAITS_PAST_NEWER_INSTALL,
  SKIPPED_INSTALL_BEGINS_ITS_LIFE,
  REVOKED_STATE_ENDS_ITS_LIFE,
} from '../../workflows/installation/earlier-life';
import {
  DECIDED_AT_START,
  DECIDED_AT_START_2,
  DECIDED_AT_START_3,
  DECIDED_AT_START_4,
  DECIDED_AT_START_5,
  DECIDED_AT_START_6,
  DECIDED_AT_START_7,
  DECIDED_AT_START_8,
  DECIDED_AT_START_9,
  DECIDED_AT_START_10,
  DECIDED_AT_START_11,
  DECIDED_AT_START_12,
  DECIDED_AT_START_13,
  DECIDED_AT_START_14,
  DECIDED_AT_START_15,
  DECIDED_AT_START_17,
  DECIDED_AT_START_18,
  ONLY_DECIDED_AT_START,
  PATCHES_DECIDED_AT_START,
  PATCHES_DECIDED_AT_START_2,
  decidePatchesAtStart,
} from '../../workflows/installation/patches';
import { ASKED, FROM_THE_THIRD, MARKERS, replayOf } from './patch-markers';
import {
  ACCOUNT_UNDO_STEPS_HEARTBEAT,
  DISCARD_IGNORED_CREDENTIALS,
  ENDED_INSTALL_FORGETS_DESTROYED_SET,
  FAILED_PHASE_YIELDS_TO_QUEUED_UNINSTALL,
  OPERATOR_REJECT_READS_TALKDESK_FIRST,
  QUEUED_UNINSTALL_KEEPS_CREDENTIALS,
  REJECTION_YIELDS_TO_QUEUED_UNINSTALL,
} from '../../workflows/installation/common';
import {
  EXPIRED_PHASE_READS_TALKDESK_LAST,
  OPERATOR_REJECT_OF_INSTALL_READS_AT_DEADLINE,
  OPERATOR_REJECT_OF_UPDATE_READS_AT_DEADLINE,
} from '../../workflows/installation/deadline-read';
import { LATE_UPDATE_KEYED_BY_NEWEST_APPLIED } from '../../workflows/installation/update';
import {
  OPERATOR_REJECT_AFTER_OWN_END_NOT_APPLIED,
  OPERATOR_REJECT_AFTER_THE_END_NOT_APPLIED,
  OPERATOR_REJECT_READS_OPEN_STATE_NAMES,
  OPERATOR_REJECT_WITHIN_OPERATION_DEADLINE,
} from '../../workflows/installation/operator';
import { TRIAL_SUPERSEDED_BY_QUEUED_UNINSTALL } from '../../workflows/installation/apply';
import { FIRST_INSTALL_TAKEN_AHEAD } from '../../workflows/installation/first-install';
import {
  EARLIER_LIFE_EVENTS_OVER,
  FINISHED_RUN_KNOWS_EVENT_TIMES,
  LATE_ROTATION_YIELDS_TO_UNINSTALL,
  SAME_SECOND_TRIAL_EVENT_LATE,
  STALE_UNINSTALL_SPARES_REINSTALL,
} from '../../workflows/installation/late';
import {
  COMPROMISED_ROTATION_KEEPS_PROVEN_SET,
  EXPIRED_ROTATION_YIELDS_TO_QUEUED_UNINSTALL,
  ROTATION_GRACE_FROM_EVENT,
  ROTATION_IMPORTED_AFTER_ITS_DEADLINE,
  UNINSTALL_ADOPTS_COMPROMISED_ROTATION,
  UNINSTALL_ADOPTS_ROUTINE_ROTATION,
  UNFLAGGED_ROTATION_ADOPTED_FOR_UNINSTALL,
} from '../../workflows/installation/rotation';
import {
  COMPROMISED_ROTATION_DESTROYS_RETIRING_SETS,
  LATE_COMPROMISED_ROTATION_DESTROYS_REVOKED_SETS,
} from '../../workflows/installation/rotation-late';
import { CALL_ADOPTS_QUEUED_ROTATION } from '../../workflows/installation/queued-rotation';
import { TRIAL_RECORD_WAITS_FOR_CANCELLATION, TRIAL_RECORD_YIELDS_TO_QUEUED_OPERATION } from '../../workflows/installation/trial';
import {
  OPERATOR_REJECT_OF_UPDATE_READS_TALKDESK_FIRST,
  RESUMED_UPDATE_REVERTED_WHEN_STOPPED,
  REVERT_UPDATE_STOPPED_WHILE_APPLYING,
} from '../../workflows/installation/update';

const MARK_ACTIVE_AFTER = 'mark-active-after-state-call';

describe('patches decided at the start of an installation run (workflows/installation/patches.ts)', () => {
  it('a run with the marker takes the paths of the patches it decides, without asking for them', () => {
    const sdk = replayOf([PATCHES_DECIDED_AT_START]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    for (const id of DECIDED_AT_START) assert.equal(isPatched(id), true, id);
    assert.deepEqual(sdk.asked, ASKED);
  });

  it('a patch added after the marker is asked where its code stands, even in a run with the marker', () => {
    // Recorded by code without the patch: the history holds the start marker and not the new patch's.
    const sdk = replayOf([PATCHES_DECIDED_AT_START]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    assert.equal(isPatched('a-later-patch'), false, 'the old path, as recorded');
    assert.deepEqual(sdk.asked, [...ASKED, 'a-later-patch']);
  });

  it('a run recorded before the marker asks every patch where its code stands', () => {
    const sdk = replayOf([STORE_STEPS_LOCAL]);
    const isPatched = decidePatchesAtStart(sdk.ask);
    assert.equal(isPatched(STORE_STEPS_LOCAL), true);
    assert.equal(isPatched(PHASE_DEADLINE_MARGIN), false);
    assert.deepEqual(sdk.asked, [...ASKED, STORE_STEPS_LOCAL, PHASE_DEADLINE_MARGIN]);
  });

  it('the second generation decides its own patches at start; a run recorded with the first only asks them where they stand', () => {
    const both = replayOf([PATCHES_DECIDED_AT_START, PATCHES_DECIDED_AT_START_2]);
    const isPatched = decidePatchesAtStart(both.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_2]) assert.equal(isPatched(id), true, id);
    assert.deepEqual(both.asked, ASKED);

    const firstOnly = replayOf([PATCHES_DECIDED_AT_START]);
    const wasPatched = decidePatchesAtStart(firstOnly.ask);
    for (const id of DECIDED_AT_START_2) assert.equal(wasPatched(id), false, id);
    assert.deepEqual(firstOnly.asked, [...ASKED, ...DECIDED_AT_START_2]);
    assert.ok(Object.isFrozen(DECIDED_AT_START_2));
    assert.deepEqual([...DECIDED_AT_START_2], ['drain-queue-before-completing', 'operator-reject-concluded-operations']);
  });

  it('the third generation decides its own patches at start; a run recorded with the first two asks them where they stand', () => {
    const all = replayOf(MARKERS);
    const isPatched = decidePatchesAtStart(all.ask);
    for (const id of [...DECIDED_AT_START, ...DECIDED_AT_START_2, ...DECIDED_AT_START_3]) assert.equal(isPatched(id), true, id);
    assert.equal(isPatched('a-later-patch'), false);
    assert.deepEqual(all.asked, [...ASKED, 'a-later-patch']);

    const firstTwo = replayOf([PATCHES_DECIDED_AT_START, PATCHES_DECIDED_AT_START_2, MARK_ACTIVE_AFTER]);
    const wasPatched = decidePatchesAtStart(firstTwo.ask);
    assert.equal(wasPatched(MARK_ACTIVE_AFTER), true, 'its own marker, recorded where its code stood');
    assert.equal(wasPatched(ROTATION_GRACE_FROM_EVENT), false);
    // Asked right after a local activity: decided by its generation alone, never asked (no marker of its own).
    assert.equal(wasPatched(UNINSTALL_ADOPTS_COMPROMISED_ROTATION), false);
    assert.deepEqual(firstTwo.asked, [...ASKED, MARK_ACTIVE_AFTER, ROTATION_GRACE_FROM_EVENT]);
    assert.equal(wasPatched(DISCARD_IGNORED_CREDENTIALS), false);
    assert.deepEqual(firstTwo.asked, [...ASKED, MARK_ACTIVE_AFTER, ROTATION_GRACE_FROM_EVENT]);
    assert.deepEqual(
      [...ONLY_DECIDED_AT_START],
      [
        UNINSTALL_ADOPTS_COMPROMISED_ROTATION,
        DISCARD_IGNORED_CREDENTIALS,
        COMPROMISED_ROTATION_KEEPS_PROVEN_SET,
        TRIAL_SUPERSEDED_BY_QUEUED_UNINSTALL,
        OPERATOR_REJECT_READS_TALKDESK_FIRST,
        ROTATION_IMPORTED_AFTER_ITS_DEADLINE,
        STALE_UNINSTALL_SPARES_REINSTALL,
        OPERATOR_REJECT_OF_UPDATE_READS_TALKDESK_FIRST,
        EXPIRED_PHASE_READS_TALKDESK_LAST,
        FAILED_PHASE_YIELDS_TO_QUEUED_UNINSTALL,
        OPERATOR_REJECT_WITHIN_OPERATION_DEADLINE,
        RESUMED_UPDATE_REVERTED_WHEN_STOPPED,
        REJECTION_YIELDS_TO_QUEUED_UNINSTALL,
        OPERATOR_REJECT_READS_OPEN_STATE_NAMES,
        ACCOUNT_UNDO_STEPS_HEARTBEAT,
        TRIAL_RECORD_WAITS_FOR_CANCELLATION,
        LATE_ROTATION_YIELDS_TO_UNINSTALL,
        EARLIER_LIFE_EVENTS_OVER,
        TRIAL_RECORD_YIELDS_TO_QUEUED_OPERATION,
        EARLIER_LIFE_INSTALL_OVER,
        UNINSTALL_ADOPTS_ROUTINE_ROTATION,
        FINISHED_RUN_KNOWS_EVENT_TIMES,
        RETRY_NOW_FOLLOWS_ATTEMPT,
        EXPIRED_ROTATION_YIELDS_TO_QUEUED_UNINSTALL,
        OPERATOR_REJECT_AFTER_THE_END_NOT_APPLIED,
        OPERATOR_REJECT_AFTER_OWN_END_NOT_APPLIED,
        INTERRUPTED_INSTALL_IMPORTS_TO_ANSWER,
        UNINSTALL_ADOPTS_ROTATION_QUEUED_MEANWHILE,
        EARLIER_LIFE_UNINSTALL_KNOWN,
        SKIPPED_INSTALL_BEGINS_ITS_LIFE,
        UNFLAGGED_ROTATION_ADOPTED_FOR_UNINSTALL,
        NEW_LIFE_WAITS_FOR_ITS_INSTALL,
        NEW_LIFE_WAITS_PAST_NEWER_INSTALL,
        ENDED_INSTALL_FORGETS_DESTROYED_SET,
        LATE_UPDATE_KEYED_BY_NEWEST_APPLIED,
        OPERATOR_REJECT_OF_UPDATE_READS_AT_DEADLINE,
        OPERATOR_REJECT_OF_INSTALL_READS_AT_DEADLINE,
        LATE_COMPROMISED_ROTATION_DESTROYS_REVOKED_SETS,
        SAME_SECOND_TRIAL_EVENT_LATE,
        REVOKED_STATE_ENDS_ITS_LIFE,
        FIRST_INSTALL_TAKEN_AHEAD,
        COMPROMISED_ROTATION_DESTROYS_RETIRING_SETS,
        CALL_ADOPTS_QUEUED_ROTATION,
      ],
    );
    assert.ok(
      ONLY_DECIDED_AT_START.every((id) => FROM_THE_THIRD.some((g) => g.includes(id))),
      'each is decided by a generation',
    );
    assert.ok(Object.isFrozen(DECIDED_AT_START_3));
    assert.deepEqual(
      [...DECIDED_AT_START_3],
      [
        'mark-active-only-install-or-update',
        MARK_ACTIVE_AFTER,
        'mark-active-retries-state-call',
        REVERT_UPDATE_STOPPED_WHILE_APPLYING,
        UNINSTALL_ADOPTS_COMPROMISED_ROTATION,
        ROTATION_GRACE_FROM_EVENT,
        DISCARD_IGNORED_CREDENTIALS,
        COMPROMISED_ROTATION_KEEPS_PROVEN_SET,
      ],
    );
    // No patch is decided by two generations.
    const every = [...DECIDED_AT_START, ...DECIDED_AT_START_2, ...FROM_THE_THIRD.flat()];
    assert.equal(new Set(every).size, every.length);
    // A patch of no generation is asked where its code stands, by every run.
    const asked = QUEUED_UNINSTALL_KEEPS_CREDENTIALS;
    assert.ok(!every.includes(asked) && !ONLY_DECIDED_AT_START.includes(asked));
    assert.equal(decidePatchesAtStart(replayOf([...MARKERS, asked]).ask)(asked), true);
    assert.equal(decidePatchesAtStart(replayOf([...MARKERS]).ask)(asked), false);
  });

  // The generations whose patches are all ONLY_DECIDED_AT_START: a run recorded before the marker never asks them.
  const onlyAtStart: [string, number, readonly string[], string[]][] = [
    ['fourth', 4, DECIDED_AT_START_4, [TRIAL_SUPERSEDED_BY_QUEUED_UNINSTALL, OPERATOR_REJECT_READS_TALKDESK_FIRST]],
    ['fifth', 5, DECIDED_AT_START_5, [ROTATION_IMPORTED_AFTER_ITS_DEADLINE, STALE_UNINSTALL_SPARES_REINSTALL]],
    ['sixth', 6, DECIDED_AT_START_6, [OPERATOR_REJECT_OF_UPDATE_READS_TALKDESK_FIRST]],
    ['seventh', 7, DECIDED_AT_START_7, [EXPIRED_PHASE_READS_TALKDESK_LAST]],
    [
      'eighth',
      8,
      DECIDED_AT_START_8,
      [
        FAILED_PHASE_YIELDS_TO_QUEUED_UNINSTALL,
        OPERATOR_REJECT_WITHIN_OPERATION_DEADLINE,
        RESUMED_UPDATE_REVERTED_WHEN_STOPPED,
        REJECTION_YIELDS_TO_QUEUED_UNINSTALL,
        OPERATOR_REJECT_READS_OPEN_STATE_NAMES,
      ],
    ],
    [
      'ninth',
      9,
      DECIDED_AT_START_9,
      [
        ACCOUNT_UNDO_STEPS_HEARTBEAT,
        TRIAL_RECORD_WAITS_FOR_CANCELLATION,
        LATE_ROTATION_YIELDS_TO_UNINSTALL,
        EARLIER_LIFE_EVENTS_OVER,
        TRIAL_RECORD_YIELDS_TO_QUEUED_OPERATION,
      ],
    ],
    ['tenth', 10, DECIDED_AT_START_10, [EARLIER_LIFE_INSTALL_OVER, UNINSTALL_ADOPTS_ROUTINE_ROTATION, FINISHED_RUN_KNOWS_EVENT_TIMES]],
    [
      'eleventh',
      11,
      DECIDED_AT_START_11,
      [RETRY_NOW_FOLLOWS_ATTEMPT, EXPIRED_ROTATION_YIELDS_TO_QUEUED_UNINSTALL, OPERATOR_REJECT_AFTER_THE_END_NOT_APPLIED],
    ],
    [
      'twelfth',
      12,
      DECIDED_AT_START_12,
      [
        OPERATOR_REJECT_AFTER_OWN_END_NOT_APPLIED,
        INTERRUPTED_INSTALL_IMPORTS_TO_ANSWER,
        UNINSTALL_ADOPTS_ROTATION_QUEUED_MEANWHILE,
        EARLIER_LIFE_UNINSTALL_KNOWN,
      ],
    ],
    [
      'thirteenth',
      13,
      DECIDED_AT_START_13,
      [SKIPPED_INSTALL_BEGINS_ITS_LIFE, UNFLAGGED_ROTATION_ADOPTED_FOR_UNINSTALL, NEW_LIFE_WAITS_FOR_ITS_INSTALL],
    ],
    ['fourteenth', 14, DECIDED_AT_START_14, [NEW_LIFE_WAITS_PAST_NEWER_INSTALL, ENDED_INSTALL_FORGETS_DESTROYED_SET]],
    [
      'fifteenth',
      15,
      DECIDED_AT_START_15,
      [LATE_UPDATE_KEYED_BY_NEWEST_APPLIED, OPERATOR_REJECT_OF_UPDATE_READS_AT_DEADLINE, OPERATOR_REJECT_OF_INSTALL_READS_AT_DEADLINE],
    ],
    ['seventeenth', 17, DECIDED_AT_START_17, [REVOKED_STATE_ENDS_ITS_LIFE, FIRST_INSTALL_TAKEN_AHEAD]],
    ['eighteenth', 18, DECIDED_AT_START_18, [COMPROMISED_ROTATION_DESTROYS_RETIRING_SETS, CALL_ADOPTS_QUEUED_ROTATION]],
  ];
  for (const [nth, n, set, expected] of onlyAtStart) {
    it(`the ${nth} generation decides its own patches at start; a run recorded before it never asks them (old paths)`, () => {
      const all = replayOf(MARKERS);
      const isPatched = decidePatchesAtStart(all.ask);
      for (const id of set) assert.equal(isPatched(id), true, id);
      assert.deepEqual(all.asked, ASKED);
      const before = replayOf(MARKERS.slice(0, n - 1));
      const wasPatched = decidePatchesAtStart(before.ask);
      for (const id of set) assert.equal(wasPatched(id), false, id);
      assert.deepEqual(before.asked, ASKED, 'asked right after an activity that may be local: never asked on their own');
      assert.ok(Object.isFrozen(set));
      assert.deepEqual([...set], expected);
    });
  }
});
