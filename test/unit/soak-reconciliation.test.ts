import assert from 'node:assert/strict';
import { reconciliationViolations, type SoakReconciliation } from '../../bench/soak/reconciliation';

const clean: SoakReconciliation = {
  everyMs: 120_000,
  scheduled: 3,
  driveMs: 400_000,
  completed: 3,
  failed: 0,
  running: 0,
  findings: { resumed: 0, reapproved: 0, deprovisioned: 0, markedActive: 2, updatesEnded: 0, drift: 0 },
  ids: { markedActive: ['a', 'b'] },
  errors: 4,
  talkdeskChecked: 30,
  dispatchedEvents: 0,
};

describe('soak: what reconciliation passes may not do', () => {
  it('repairs and per-installation errors are counted, not violations', () => {
    assert.deepEqual(reconciliationViolations(clean), []);
  });

  it('a failed pass, no completed pass, and drift at Talkdesk are violations', () => {
    assert.deepEqual(reconciliationViolations({ ...clean, failed: 1 }), ['1 reconciliation passes failed']);
    assert.deepEqual(reconciliationViolations({ ...clean, completed: 0 }), ['no reconciliation pass completed (the soak asked for them)']);
    assert.deepEqual(reconciliationViolations({ ...clean, findings: { ...clean.findings, drift: 1 }, ids: { drift: ['x1'] } }), [
      'reconciliation found drift at Talkdesk for 1: x1',
    ]);
  });

  it('a drive of two intervals or more in which the schedule started no pass is a violation (the final trigger hides it)', () => {
    const none = { ...clean, scheduled: 0, schedule: { actionsTaken: 0, skippedOverlap: 0, missedCatchupWindow: 3 } };
    assert.match(
      reconciliationViolations(none).join('\n'),
      /the reconciliation schedule started no pass in 400 s \(every 120 s; schedule: .*"missedCatchupWindow":3/,
    );
    assert.deepEqual(reconciliationViolations({ ...none, driveMs: 200_000 }), [], 'shorter than two intervals: the trigger is expected');
  });
});
