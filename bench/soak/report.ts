import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describeMachine, type MachineInfo } from '../machine';
import type { effectiveTuning } from '../options';
import type { CheckStats } from './checks';
import type { SoakOptions } from './options';
import type { SoakReconciliation } from './reconciliation';

export interface SoakReport {
  ok: boolean;
  violations: string[];
  startedAt: string;
  seconds: number;
  machine: MachineInfo;
  settings: Omit<SoakOptions, 'print' | 'resultsDir' | 'tuning' | 'stateDir'> & { tuning: ReturnType<typeof effectiveTuning> };
  drive: {
    finished: number;
    eventsPlanned: number;
    eventsAccepted: number;
    firstAttemptFailures: number;
    simulatorRetries: number;
    redeliveredBySoak: number;
    /** Every delivery attempt's answer: status (0 = no answer) -> count. */
    callbackAnswers: Record<string, number>;
    deadlineReached: boolean;
  };
  faults: {
    workerKills: number;
    workerStarts: number;
    workerUnexpectedExits: number;
    mongoRestart?: { atSeconds: number; tookMs: number };
    temporalRestart?: { atSeconds: number; tookMs: number };
    talkdeskFaults: Record<string, number>;
    timeline: string[];
  };
  checks: CheckStats;
  /** What the reconciliation schedule's passes did during the drive (absent when none ran). */
  reconciliation?: SoakReconciliation;
  /**
   * Only when a check failed: the last warnings and errors of the service's processes (their logs,
   * already redacted), so that a failure in CI, whose state directory is gone, can be read from its output.
   */
  logTail?: string[];
}

/**
 * The last warning and error lines of these log files (the service logs its level by label), at most
 * `max` in all and an even share of them per file, so that one busy log does not hide the others;
 * each cut to 400 characters.
 */
export function warningsIn(files: string[], max = 40): string[] {
  const lines: string[] = [];
  const perFile = Math.max(1, Math.floor(max / Math.max(1, files.length)));
  for (const f of files) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const name = path.basename(f);
    const mine = text.split('\n').filter((line) => /"level":"(warn|error|fatal)"/.test(line) || /^worker failed/.test(line));
    lines.push(...mine.slice(-perFile).map((line) => `${name}: ${line.slice(0, 400)}`));
  }
  return lines.slice(-max);
}

export function countBy(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

export function soakSummary(r: SoakReport): string {
  const c = r.checks;
  const f = r.faults;
  const d = r.drive;
  const lines = [
    '',
    `Machine: ${describeMachine(r.machine)}`,
    `Soak: ${c.installations} installations, ${d.finished} finished, ${r.seconds} s (seed ${r.settings.faults.seed})`,
    `Faults: Talkdesk ${
      Object.entries(f.talkdeskFaults)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none'
    }; ${f.workerKills} worker SIGKILLs (${f.workerStarts} starts, ${f.workerUnexpectedExits} unexpected exits); ` +
      `FerretDB restarted ${f.mongoRestart ? `at ${f.mongoRestart.atSeconds.toFixed(0)} s (${f.mongoRestart.tookMs} ms)` : 'never'}; ` +
      `Temporal restarted ${f.temporalRestart ? `at ${f.temporalRestart.atSeconds.toFixed(0)} s (${f.temporalRestart.tookMs} ms)` : 'never'}`,
    `Deliveries: ${d.eventsAccepted}/${d.eventsPlanned} events accepted; ${d.firstAttemptFailures} first attempts failed, ` +
      `${d.simulatorRetries} Talkdesk retries, ${d.redeliveredBySoak} redelivered by the soak after three failures; answers ${Object.entries(
        d.callbackAnswers,
      )
        .map(([k, n]) => `${k}×${n}`)
        .join(', ')}`,
    '',
    `  final phase correct          ${c.inFinalPhase}/${c.installations}` +
      (c.lateCompletions ? ` (${c.lateCompletions} workflows completed after the drive: a last workflow task retried)` : ''),
    `  one account each             ${c.accounts} accounts for ${c.installations} installations`,
    `  one approval per phase       ${c.cleanApprovals + c.lateApprovals} approvals for ${c.approvalPhases} approved phases` +
      (c.lateApprovals ? ` (${c.lateApprovals} answered after the timeout, not sent again)` : '') +
      (c.approvalsOfInterruptedPhases
        ? ` (+ ${c.approvalsOfInterruptedPhases} updates interrupted by their uninstall after the approval was sent)`
        : '') +
      (c.markedActivePhases
        ? ` (+ ${c.markedActivePhases} phases marked active by reconciliation (code before mark-active-retries-state-call), ${c.markedActiveAfterOwnApproval ?? 0} of them after their own approval took effect)`
        : ''),
    // Talkdesk's documented API cannot tell which operation is pending: counted, not a violation.
    `  concluded before delivered   ${c.concludedByAnEarlierCall} phases approved with no call of their own (their operation concluded at Talkdesk by an earlier phase's call), ` +
      `${c.concludedAnotherOperation} retried approvals that concluded the uninstall pending by then`,
    `  stray state calls            ${c.pendingConcludedOutsidePhases ?? 0} pending operations concluded outside their phase (reconciliation), ` +
      `${c.conflictingStateCalls ?? 0} answered 409 (both must be 0)`,
    ...(r.reconciliation ? [reconciliationLine(r.reconciliation)] : []),
    `  events applied or superseded ${c.eventsApplied} applied + ${c.eventsRecordedIgnored} recorded as superseded of ${c.events}` +
      (c.earlierRuns ? ` (${c.earlierRuns} late hand-overs recorded by a run of their own after the workflow completed)` : ''),
    `  secrets in histories / logs  ${c.secretsLookedFor} secrets looked for in ${c.historiesScanned} histories and ${c.logFilesScanned} log files (${Math.round(c.logBytesScanned / 1024)} KiB)`,
    '',
    r.ok ? 'soak: OK, zero violations' : `soak: ${r.violations.length} VIOLATION(S):`,
    ...r.violations.slice(0, 100).map((x) => `  - ${x}`),
    ...(r.violations.length > 100 ? [`  ... and ${r.violations.length - 100} more`] : []),
    '',
  ];
  return lines.join('\n');
}

function reconciliationLine(x: SoakReconciliation): string {
  const found = Object.entries(x.findings)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  return (
    `  reconciliation passes        ${x.completed} completed, ${x.failed} failed, ${x.running} still running (every ${x.everyMs / 1000} s); ` +
    `found: ${found.join(', ') || 'nothing'}; ${x.talkdeskChecked} Talkdesk reads, ${x.errors} per-installation errors` +
    (x.failures?.length ? `\n${x.failures.map((f) => `    failed pass ${f}`).join('\n')}` : '')
  );
}
