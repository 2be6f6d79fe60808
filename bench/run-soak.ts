import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { InstallationRecord } from '../src/store/installations';
import { machineInfo } from './machine';
import { effectiveTuning } from './options';
import { checkSoak, type CheckProgress } from './soak/checks';
import { checksOutlasted } from './soak/check-stats';
import { Deliveries } from './soak/delivery';
import { FaultController } from './soak/faults';
import type { SoakOptions } from './soak/options';
import { eventsIn, expectedPhaseOf, nextCreatedAt, planOf, type SoakEvent, type SoakInstallation } from './soak/plan';
import { countBy, soakSummary, warningsIn, type SoakReport } from './soak/report';
import { reconciliationViolations, startSoakReconciliation } from './soak/reconciliation';
import { saveHistories } from './soak/unfinished';
import { RecordWaiter } from './soak/waiter';
import { startBenchSystem } from './system';

export { soakOptionsFrom, SOAK_DEFAULTS, type SoakOptions } from './soak/options';
export type { SoakReport } from './soak/report';

/**
 * `npm run soak`: M installations with their updates and uninstalls through the
 * simulator under Talkdesk chaos, worker kills and one restart each of FerretDB and
 * the Temporal dev server; then the end checks. Bounded by `deadlineMs`.
 */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const print = opts.print ?? true;
  const say = (msg: string) => print && console.log(`soak: ${msg}`);
  const started0 = Date.now();
  const hardDeadline = started0 + opts.deadlineMs;
  const driveDeadline = hardDeadline - Math.min(opts.checksReserveMs, opts.deadlineMs / 2);
  // No new installation after this, so that those in progress can finish before the drive deadline.
  const arrivalsDeadline = driveDeadline - Math.min(3 * 60_000, (driveDeadline - started0) / 5);
  say(
    `starting the servers; ${opts.installations} installations, ${opts.faults.workerProcesses} worker processes, seed ${opts.faults.seed}`,
  );
  const sys = await startBenchSystem({
    workerProcesses: opts.faults.workerProcesses,
    tuning: opts.tuning,
    web: 'in-process',
    workflowOptions: {
      retryInitialMs: 500,
      retryMaxMs: 5_000,
      orderingGraceMs: 60_000,
      activityTimeoutMs: 10_000,
      heartbeatingActivityTimeoutMs: 30_000,
      heartbeatTimeoutMs: 5_000,
    },
    dispatchIntervalMs: 2_000,
    talkdeskTimeoutMs: opts.talkdeskTimeoutMs,
    simulatorRetryDelaysMs: [2_000, 5_000],
    deliveryTimeoutMs: 10_000,
    stateDir: opts.stateDir,
    logLevel: 'info',
  });
  const deliveries = new Deliveries(sys.simulator);
  const waiter = new RecordWaiter(sys.store);
  let aborted = false;
  const stop = () => aborted || Date.now() > driveDeadline;
  const installations: SoakInstallation[] = [];
  const eventsPlanned = Array.from({ length: opts.installations }, (_, i) => eventsIn(planOf(i))).reduce((a, b) => a + b, 0);
  let eventsAccepted = 0;
  let startedFraction = () => 0;
  const faults = new FaultController(sys, opts.faults, () => startedFraction());
  const deadlineTimer = setTimeout(() => {
    aborted = true;
    waiter.stop();
  }, driveDeadline - Date.now());
  try {
    sys.simulator.setChaos({ ...opts.chaos, hangMs: opts.talkdeskTimeoutMs + 1_000, seed: opts.faults.seed });
    waiter.start();
    faults.start();
    const reconciliation =
      opts.reconcileEveryMs > 0 ? await startSoakReconciliation(sys.client, sys.taskQueue, opts.reconcileEveryMs) : undefined;

    const deliver = async (
      inst: SoakInstallation,
      event: { id: string; type: SoakEvent['type']; created_at: string },
      sim: Parameters<Deliveries['deliver']>[0],
    ) => {
      const e: SoakEvent = { id: event.id, type: event.type, createdAt: event.created_at, accepted: false };
      inst.events.push(e);
      e.accepted = await deliveries.deliver(sim, stop);
      if (e.accepted) eventsAccepted += 1;
      else inst.stoppedAt = `${event.type} not accepted before the deadline`;
      return e.accepted;
    };
    const reached = async (inst: SoakInstallation, what: string, done: (r: InstallationRecord) => boolean) => {
      const ok = await waiter.wait(inst.installationId, done);
      const failing = waiter.readsFailing();
      if (!ok) inst.stoppedAt = `${what} not reached before the deadline${failing ? `; ${failing}` : ''}`;
      return ok;
    };
    const appliedSince = (at: string) => (r: InstallationRecord) =>
      r.lastEventAt !== undefined && Date.parse(r.lastEventAt) >= Date.parse(at);

    const drive = async (index: number) => {
      const plan = planOf(index);
      const stub = { lastAt: 0 };
      const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 3 }, { createdAt: nextCreatedAt(stub) });
      const inst: SoakInstallation = {
        index,
        plan,
        installationId: installation.id,
        accountId: installation.accountId,
        events: [],
        expectedPhase: expectedPhaseOf(plan),
        finished: false,
        lastAt: stub.lastAt,
      };
      installations.push(inst);
      const id = inst.installationId;
      if (!(await deliver(inst, event, event))) return;
      if (!(await reached(inst, 'active after install', (r) => r.phase === 'active' && appliedSince(event.created_at)(r)))) return;
      if (plan === 'install, update' || plan === 'install, update, uninstall') {
        const update = sys.simulator.updateInstallation(
          id,
          { addUsers: 1, subscription: { name: 'pro', licenses: 10 } },
          { createdAt: nextCreatedAt(inst) },
        );
        if (!(await deliver(inst, update, update))) return;
        if (!(await reached(inst, 'active after update', (r) => r.phase === 'active' && appliedSince(update.created_at)(r)))) return;
      }
      if (plan === 'install, then update and uninstall at once') {
        const update = sys.simulator.updateInstallation(id, { addUsers: 1 }, { createdAt: nextCreatedAt(inst) });
        const uninstall = sys.simulator.uninstall(id, undefined, { createdAt: nextCreatedAt(inst) });
        const [a, b] = await Promise.all([deliver(inst, update, update), deliver(inst, uninstall, uninstall)]);
        if (!a || !b) return;
        if (!(await reached(inst, 'uninstalled', (r) => r.phase === 'uninstalled'))) return;
      } else if (plan !== 'install, update') {
        const uninstall = sys.simulator.uninstall(id, undefined, { createdAt: nextCreatedAt(inst) });
        if (!(await deliver(inst, uninstall, uninstall))) return;
        if (!(await reached(inst, 'uninstalled', (r) => r.phase === 'uninstalled'))) return;
      }
      inst.finished = true;
    };

    // Installations arrive at a steady pace, as Talkdesk sends them, whatever state the
    // service is in (so deliveries also meet the outages), at most `inFlight` at once.
    let started = 0;
    let finished = 0;
    let active = 0;
    startedFraction = () => started / opts.installations;
    const progress = setInterval(() => {
      say(
        `${Math.round((Date.now() - started0) / 1000)} s: ${started} started, ${finished}/${opts.installations} done, ` +
          `${eventsAccepted}/${eventsPlanned} events accepted, ${faults.kills} worker kills`,
      );
    }, 15_000);
    const lanes: Promise<void>[] = [];
    try {
      while (started < opts.installations && !stop() && Date.now() < arrivalsDeadline) {
        if (active >= opts.inFlight) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        active += 1;
        const index = started++;
        lanes.push(
          drive(index)
            .catch((err: unknown) => {
              const inst = installations.find((i) => i.index === index);
              if (inst) inst.stoppedAt = `driver failed: ${err instanceof Error ? err.message : String(err)}`;
            })
            .finally(() => {
              active -= 1;
              finished += 1;
            }),
        );
        await new Promise((r) => setTimeout(r, opts.arrivalMs));
      }
      await Promise.all(lanes);
    } finally {
      clearInterval(progress);
    }
    const deadlineReached = stop() || started < opts.installations;
    say(
      `driving done after ${Math.round((Date.now() - started0) / 1000)} s${deadlineReached ? ' (deadline reached)' : ''}; stopping the faults`,
    );
    clearTimeout(deadlineTimer);
    waiter.stop();
    // The checks read a quiet system: no pass under way, no fault.
    // A pass under way is waited for until the drive's deadline at the latest: the checks keep their reserve.
    const reconciled = await reconciliation?.stop(driveDeadline);
    await faults.stop();
    sys.simulator.setChaos(null);
    await sys.simulator.deliveriesSettled();
    // A call a chaos hang answered late took effect already: its status is recorded only once answered.
    await sys.simulator.lateAnswersSettled();

    say('checking');
    const checksAt: CheckProgress = { step: 'starting', reading: new Set() };
    const checked = await Promise.race([
      // Workflows still running are waited for until a time that leaves the scans that follow a third of what is left
      // (at least 10 s), then reported where they stand (not lost to a bare timeout).
      checkSoak(sys, installations, faults.killTimes, {
        completeBy: hardDeadline - Math.max(10_000, (hardDeadline - Date.now()) / 3),
        progress: checksAt,
      }),
      // Past the hard deadline the run still reports (a violation saying where the checks were), with what
      // they had counted, so that the log tail and the unfinished installations' histories are kept.
      new Promise<Awaited<ReturnType<typeof checkSoak>>>((resolve) =>
        setTimeout(
          () => resolve(checksOutlasted(checksAt, installations, faults.timeline)),
          Math.max(10_000, hardDeadline - Date.now()),
        ).unref(),
      ),
    ]);
    const violations = [...checked.violations];
    if (installations.length < opts.installations) {
      const rate = installations.filter((i) => i.finished).length / ((Date.now() - started0) / 1000);
      violations.push(
        `soak incomplete: only ${installations.length} of ${opts.installations} installations were started before the deadline ` +
          `(${rate.toFixed(2)} installations/s on this machine; give more time with --deadline-minutes)`,
      );
    }
    if (reconciled) violations.push(...reconciliationViolations(reconciled));
    if (opts.faults.mongoRestartAt <= 1 && !faults.mongoRestart) violations.push('FerretDB was not restarted (the plan asked for it)');
    if (opts.faults.temporalRestartAt <= 1 && !faults.temporalRestart)
      violations.push('the Temporal dev server was not restarted (the plan asked for it)');
    if (opts.faults.maxKills > 0 && faults.kills === 0) violations.push('no worker process was killed (the plan asked for it)');

    const talkdeskFaults = countBy(sys.simulator.calls.flatMap((c) => (c.fault ? [c.fault] : [])));
    const { print: _p, resultsDir: _r, tuning, stateDir: _s, ...settings } = opts;
    const report: SoakReport = {
      ok: violations.length === 0,
      violations,
      startedAt: new Date(started0).toISOString(),
      seconds: Math.round((Date.now() - started0) / 100) / 10,
      machine: machineInfo(),
      settings: { ...settings, tuning: effectiveTuning(tuning) },
      drive: {
        finished: installations.filter((i) => i.finished).length,
        eventsPlanned,
        eventsAccepted,
        firstAttemptFailures: deliveries.firstAttemptFailures,
        simulatorRetries: sys.simulator.deliveries.filter((d) => d.attempt > 1).length,
        redeliveredBySoak: deliveries.redelivered,
        callbackAnswers: countBy(sys.simulator.deliveries.map((x) => String(x.status))),
        deadlineReached,
      },
      faults: {
        workerKills: faults.kills,
        workerStarts: faults.workerStarts,
        workerUnexpectedExits: faults.unexpectedExits,
        mongoRestart: faults.mongoRestart,
        temporalRestart: faults.temporalRestart,
        talkdeskFaults,
        // A copy: the exits of the workers that stop() stops below would land in it afterwards ("exited by itself").
        timeline: [...faults.timeline],
      },
      checks: checked.stats,
      ...(reconciled ? { reconciliation: reconciled } : {}),
      ...(violations.length > 0 ? { logTail: warningsIn(sys.logFiles()) } : {}),
    };
    if (opts.resultsDir) {
      mkdirSync(opts.resultsDir, { recursive: true });
      writeFileSync(path.join(opts.resultsDir, 'soak.json'), JSON.stringify(report, null, 2) + '\n');
      // What an unfinished installation's workflow did, for the post-mortem (the servers' state goes with stop()).
      const unfinished = [...installations.filter((i) => !i.finished).map((i) => i.installationId), ...checked.stuck];
      if (unfinished.length > 0) {
        const dir = path.join(opts.resultsDir, 'soak-histories');
        say(`${await saveHistories(sys.client, unfinished, dir)} histories of unfinished installations in ${dir}`);
      }
      // The processes' whole logs (the report keeps only their last warnings), before stop() removes them.
      if (!report.ok) say(`logs of the run in ${copyLogs(sys.logFiles(), path.join(opts.resultsDir, 'soak-logs'))}`);
    }
    if (print) console.log(soakSummary(report));
    return report;
  } finally {
    clearTimeout(deadlineTimer);
    waiter.stop();
    await faults.stop(0).catch(() => undefined);
    say('stopping the servers');
    await sys.stop();
  }
}

/** Copies each log file into `dir` (created); returns `dir`. */
function copyLogs(files: readonly string[], dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const f of files) copyFileSync(f, path.join(dir, path.basename(f)));
  return dir;
}
