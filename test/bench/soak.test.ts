import assert from 'node:assert/strict';
import { runSoak } from '../../bench/run-soak';

/** `npm run soak` in a small configuration, so that it cannot rot. */
describe('soak (15 installations, one worker kill, one FerretDB and one Temporal restart, reconciliation every 15 s)', function () {
  this.timeout(215_000);

  it('loses nothing and leaks nothing under Talkdesk chaos and process faults', async () => {
    const report = await runSoak({
      installations: 15,
      inFlight: 15,
      arrivalMs: 1_000,
      faults: {
        workerProcesses: 2,
        killEveryMs: [2_000, 4_000],
        maxKills: 1,
        mongoRestartAt: 0.3,
        temporalRestartAt: 0.6,
        downMs: 1_000,
        seed: 7,
      },
      chaos: { p500: 0.1, p429: 0.05, retryAfterSeconds: 1, pHang: 0.02 },
      // Passes meet installations mid-phase, under the same faults.
      reconcileEveryMs: 15_000,
      talkdeskTimeoutMs: 2_000,
      // The bound of a failing run (a passing one takes a fraction): recoveries after the restarts are slow on a loaded machine.
      deadlineMs: 200_000,
      checksReserveMs: 30_000,
      tuning: {},
      print: false,
    });
    if (!report.ok) {
      // The run's state directory is gone by now: what CI's output keeps is what is printed here.
      console.log(`soak timeline:\n  ${report.faults.timeline.join('\n  ')}`);
      console.log(`soak warnings and errors (last ${report.logTail?.length ?? 0}):\n  ${(report.logTail ?? []).join('\n  ')}`);
    }
    assert.deepEqual(report.violations, []);
    assert.equal(report.ok, true);
    assert.equal(report.faults.workerKills, 1);
    assert.ok(report.faults.mongoRestart, 'FerretDB was restarted');
    assert.ok(report.faults.temporalRestart, 'the Temporal dev server was restarted');
    assert.equal(report.checks.inFinalPhase, 15);
    assert.equal(report.checks.accounts, 15);
    assert.ok(report.checks.historiesScanned >= 15 && report.checks.logFilesScanned >= 2);
    assert.ok(report.checks.secretsLookedFor > 15);
    assert.ok(report.reconciliation && report.reconciliation.completed >= 1, 'reconciliation passes ran');
  });
});
