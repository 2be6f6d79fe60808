import assert from 'node:assert/strict';
import {
  CONTINUE_AS_NEW_MID_PHASE,
  INTERRUPT_AT_PHASE_START,
  PHASE_DEADLINE_MARGIN,
  STATE_CALL_WAITS_FOR_CANCELLATION,
  STORE_STEP_BOUNDED_LOCAL,
  STORE_STEPS_LOCAL,
} from '../../workflows/installation/context';
import { LATE_EVENTS_BY_KIND } from '../../workflows/installation/late';
import { DECIDED_AT_START } from '../../workflows/installation/patches';
import { TRIAL_RECORD_INTERRUPTIBLE } from '../../workflows/installation/trial';

/** The first generation decided at start (workflows/installation/patches.ts): frozen as it was added. */
describe('patches decided at start: the first generation', () => {
  it('decides exactly the patches that existed when it was added (the set is frozen)', () => {
    assert.ok(Object.isFrozen(DECIDED_AT_START));
    for (const id of [
      STATE_CALL_WAITS_FOR_CANCELLATION,
      PHASE_DEADLINE_MARGIN,
      STORE_STEPS_LOCAL,
      CONTINUE_AS_NEW_MID_PHASE,
      STORE_STEP_BOUNDED_LOCAL,
      INTERRUPT_AT_PHASE_START,
      LATE_EVENTS_BY_KIND,
      TRIAL_RECORD_INTERRUPTIBLE,
      'uninstall-interrupts-any-phase',
      'operator-reject-uses-install-event',
      'record-handled-before-completing',
    ])
      assert.ok(DECIDED_AT_START.includes(id), id);
    assert.equal(DECIDED_AT_START.length, 11);
  });
});
