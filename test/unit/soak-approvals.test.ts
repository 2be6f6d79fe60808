import assert from 'node:assert/strict';
import { checkPhaseApprovals } from '../../bench/soak/approvals';
import type { CheckStats } from '../../bench/soak/checks';
import type { CallRecord } from '../../src/simulator';
import type { InstallationView, PhaseRecord } from '../../workflows/definitions';

/** The soak's approval check: every approved phase has a call that concluded its operation at Talkdesk. */
describe('soak: approvals per phase', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 12, 0, s)).toISOString();
  const phase = (p: PhaseRecord['phase'], result: string, from: number, to: number): PhaseRecord =>
    ({ phase: p, eventId: `${p}-${from}`, startedAt: at(from), endedAt: at(to), result }) as PhaseRecord;
  const approval = (s: number, concluded: string): CallRecord =>
    ({ status: 200, body: { state: 'approve' }, at: new Date(at(s)), concluded }) as unknown as CallRecord;
  const check = (history: PhaseRecord[], calls: CallRecord[]) => {
    const v: string[] = [];
    const stats = { approvalPhases: 0, cleanApprovals: 0, lateApprovals: 0, concludedByAnEarlierCall: 0, concludedAnotherOperation: 0 };
    checkPhaseApprovals('inst-1', { history } as InstallationView, calls, [], stats as CheckStats, v);
    return { v, stats };
  };
  const install = phase('installing', 'approved', 0, 5);

  it('passes an update approved by its own call', () => {
    const { v } = check([install, phase('updating', 'approved', 10, 15)], [approval(2, 'install'), approval(12, 'update')]);
    assert.deepEqual(v, []);
  });

  it('passes an update with no call of its own whose operation an earlier call concluded', () => {
    // The install's retried approval concluded the update Talkdesk had opened meanwhile.
    const { v, stats } = check([install, phase('updating', 'approved', 10, 15)], [approval(2, 'install'), approval(4, 'update')]);
    assert.deepEqual(v, []);
    assert.equal(stats.concludedByAnEarlierCall, 1);
  });

  it('flags a second update approved with no call left to have concluded it', () => {
    const { v } = check(
      [install, phase('updating', 'approved', 10, 15), phase('updating', 'approved', 20, 25)],
      [approval(2, 'install'), approval(12, 'update')],
    );
    assert.ok(
      v.some((m) => /1 updating phases ended approved with no call of their own, but only 0 other calls concluded an update/.test(m)),
      v.join('\n'),
    );
  });

  it('passes an update whose approval concluded the uninstall that replaced it, and that uninstall with no call of its own', () => {
    const { v } = check(
      [install, phase('updating', 'approved', 10, 15), phase('uninstalling', 'acknowledged', 20, 25)],
      [approval(2, 'install'), approval(12, 'uninstall')],
    );
    assert.deepEqual(v, []);
  });
});
