import assert from 'node:assert/strict';
import { checksOutlasted, emptyCheckStats } from '../../bench/soak/check-stats';
import type { SoakInstallation } from '../../bench/soak/plan';

const installation = (id: string, finished: boolean, stoppedAt?: string): SoakInstallation => ({
  index: 0,
  plan: 'install, update, uninstall',
  installationId: id,
  accountId: `acc-${id}`,
  events: [],
  expectedPhase: 'uninstalled',
  finished,
  ...(stoppedAt ? { stoppedAt } : {}),
  lastAt: 0,
});

describe('soak report: end checks that outlast the hard deadline', () => {
  it('say at which step they were and whose final view they were reading, keep what they found, and say where each unfinished installation stopped (once)', () => {
    const stats = { ...emptyCheckStats(3), inFinalPhase: 1 };
    const result = checksOutlasted(
      {
        step: '5, secrets',
        reading: new Set(['inst-b']),
        stats,
        violations: [
          'inst-d: workflow RUNNING, expected COMPLETED (uninstalled)',
          'inst-e (install, update, uninstall): not finished: active after install not reached; workflow RUNNING',
        ],
        stuck: ['inst-d'],
      },
      [
        installation('inst-a', true),
        installation('inst-b', true),
        installation('inst-c', false, 'uninstalled not reached before the deadline'),
        // Described by step 1 already: not listed again.
        installation('inst-e', false, 'active after install not reached before the deadline'),
      ],
      ['10 s: worker 1 killed'],
    );
    assert.deepEqual(result.violations, [
      'the end checks did not finish before the hard deadline: at step 5, secrets, still reading inst-b; faults: 10 s: worker 1 killed',
      'inst-d: workflow RUNNING, expected COMPLETED (uninstalled)',
      'inst-e (install, update, uninstall): not finished: active after install not reached; workflow RUNNING',
      'inst-c (install, update, uninstall): uninstalled not reached before the deadline',
    ]);
    assert.equal(result.stats.inFinalPhase, 1, 'the counts made so far are kept');
    assert.deepEqual(result.stuck, ['inst-d', 'inst-b'], 'the stuck ones found, and the one being read: histories worth saving');
  });

  it('report zero counts when the checks had not started counting', () => {
    const result = checksOutlasted({ step: 'starting', reading: new Set() }, [installation('inst-a', false)], []);
    assert.equal(result.violations[0], 'the end checks did not finish before the hard deadline: at step starting; faults: ');
    assert.equal(result.violations[1], 'inst-a (install, update, uninstall): not finished');
    assert.deepEqual(result.stats, emptyCheckStats(1));
  });
});
