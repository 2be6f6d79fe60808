import type { CallRecord } from '../../src/simulator';
import type { InstallationView, PhaseRecord, PhaseResult } from '../../workflows/definitions';
import type { CheckStats } from './checks';

/** The approval calls of the soak's end checks (checks.ts): whose phase each was, and how to say what happened. */

/** The result of each phase that owns a Talkdesk operation when its approval concluded it. */
export const APPROVED: Partial<Record<PhaseRecord['phase'], PhaseResult>> = {
  installing: 'approved',
  updating: 'approved',
  uninstalling: 'acknowledged',
};
/** The Talkdesk operation each phase concludes. */
export const OPERATION: Record<string, string> = { installing: 'install', updating: 'update', uninstalling: 'uninstall' };

/** "N approvals at t1, t2 (a worker was SIGKILLed between them)": for the lead to tell kills from slowness. */
export function describeApprovals(n: { at: number[]; hung: number; concluded: string[] }, killTimes: readonly number[]): string {
  const { at } = n;
  const late = n.hung ? `, ${n.hung} of them answered after the client's timeout` : '';
  const times = at.map((t, i) => `${new Date(t).toISOString().slice(11, 23)} concluding ${n.concluded[i] ?? '?'}`).join(', ');
  if (at.length < 2) return `${at.length} approval calls took effect${late}${times ? ` (${times})` : ''}`;
  const [first, last] = [Math.min(...at), Math.max(...at)];
  const kills = killTimes.filter((k) => k >= first && k <= last).length;
  return `${at.length} approval calls took effect${late} (${times}); ${kills ? `${kills} worker SIGKILL(s) between them` : 'no worker kill between them'}`;
}

/** The phase of `history` whose time window holds `at` (else the nearest one). */
export function phaseOf(history: PhaseRecord[], at: number): PhaseRecord | undefined {
  let best: PhaseRecord | undefined;
  let bestDistance = Infinity;
  for (const p of history) {
    if (!(p.phase in APPROVED)) continue;
    const start = Date.parse(p.startedAt);
    const end = p.endedAt ? Date.parse(p.endedAt) : Infinity;
    const distance = at < start ? start - at : at > end ? at - end : 0;
    if (distance < bestDistance) {
      best = p;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Check 3 of the soak (checks.ts), per installation: exactly one approval that took effect per approved
 * phase, counting in `stats` what Talkdesk's one state endpoint makes legitimate, each violation in `v`.
 */
export function checkPhaseApprovals(
  installationId: string,
  view: InstallationView,
  calls: readonly CallRecord[],
  workerKillTimes: readonly number[],
  stats: CheckStats,
  v: string[],
): void {
  const approvals = calls.filter((c) => c.status === 200 && (c.body as { state?: string } | undefined)?.state === 'approve');
  const concludedOps = new Set(approvals.map((c) => c.concluded));
  const perPhase = new Map<PhaseRecord, { clean: number; hung: number; at: number[]; concluded: string[] }>();
  for (const c of approvals) {
    const phase = phaseOf(view.history, c.at.getTime());
    if (!phase) {
      v.push(`${installationId}: an approval at ${c.at.toISOString()} outside any phase`);
      continue;
    }
    const n = perPhase.get(phase) ?? { clean: 0, hung: 0, at: [], concluded: [] };
    if (c.fault === 'chaosHang') n.hung += 1;
    else n.clean += 1;
    n.at.push(c.at.getTime());
    n.concluded.push(c.concluded ?? '?');
    perPhase.set(phase, n);
  }
  for (const p of view.history) {
    const expected = APPROVED[p.phase];
    if (!expected) continue;
    const n = perPhase.get(p) ?? { clean: 0, hung: 0, at: [], concluded: [] };
    if (!p.endedAt) {
      // Still running (an installation the deadline stopped): only a repeated approval is wrong.
      if (n.clean + n.hung > 1)
        v.push(`${installationId}: ${p.phase} (${p.eventId}, still running): ${describeApprovals(n, workerKillTimes)}`);
      continue;
    }
    const approved = p.result === expected;
    if (approved) {
      stats.approvalPhases += 1;
      stats.cleanApprovals += n.clean;
      stats.lateApprovals += n.hung;
      const total = n.clean + n.hung;
      // One endpoint concludes whatever is pending at Talkdesk. A call of this phase that concluded
      // another operation (an uninstall created meanwhile) is that operation's one approval, not a
      // repeat of this one's: only calls that concluded this operation, or nothing, can repeat it.
      const other = n.concluded.filter((op) => op !== OPERATION[p.phase] && op !== 'nothing' && op !== '?').length;
      if (other > 0 && total > 1) stats.concludedAnotherOperation += other;
      const concludedBefore = total === 0 && concludedOps.has(OPERATION[p.phase] as CallRecord['concluded']);
      if (concludedBefore) stats.concludedByAnEarlierCall += 1;
      else if (total === 0 || total - other > 1)
        v.push(
          `${installationId}: ${p.phase} (${p.eventId}) approved, expected exactly 1 approval: ${describeApprovals(n, workerKillTimes)}`,
        );
    } else if (p.result === 'interrupted' && n.clean + n.hung <= 1) {
      // An uninstall that arrives while the approval is on its way interrupts the phase after Talkdesk has it.
      if (n.clean + n.hung === 1) stats.approvalsOfInterruptedPhases += 1;
    } else if (p.result === 'marked-active' && n.clean + n.hung <= 1) {
      // Reconciliation read Talkdesk completed while the phase waited to retry its state call: the phase's
      // own approval took effect (its answer lost: a hung call), or another call concluded its operation.
      // With neither, the signal ended a phase whose operation is still open at Talkdesk (a stale read).
      // Approximate: any call of this installation that concluded an operation of this kind counts.
      if (!concludedOps.has(OPERATION[p.phase] as CallRecord['concluded'])) {
        v.push(
          `${installationId}: ${p.phase} (${p.eventId}) marked active by reconciliation, but no call concluded its ${OPERATION[p.phase]}`,
        );
      } else {
        stats.markedActivePhases += 1;
        if (n.concluded.includes(OPERATION[p.phase]!)) stats.markedActiveAfterOwnApproval += 1;
      }
    } else if (n.clean + n.hung > 0) {
      v.push(`${installationId}: ${p.phase} ended "${p.outcome}" but ${n.clean + n.hung} approval calls took effect`);
    }
  }
  // Each operation is concluded at Talkdesk by exactly one call. A phase that ended approved (or marked active)
  // with no call of its own needs one that concluded its operation elsewhere, not already some phase's own: per
  // kind, such phases cannot outnumber the concluding calls left. (A phase whose own call concluded another
  // operation, an update's approval concluding the uninstall that replaced it, needs none: Talkdesk dropped it.)
  for (const [phase, op] of Object.entries(OPERATION)) {
    const ofKind = view.history.filter((p) => p.phase === phase && p.endedAt);
    const needing = ofKind.filter(
      (p) => (p.result === APPROVED[p.phase] || p.result === 'marked-active') && (perPhase.get(p)?.at.length ?? 0) === 0,
    ).length;
    const own = ofKind.filter((p) => perPhase.get(p)?.concluded.includes(op)).length;
    const spare = approvals.filter((c) => c.concluded === op).length - own;
    if (needing > spare)
      v.push(
        `${installationId}: ${needing} ${phase} phases ended approved with no call of their own, but only ${spare} other calls concluded an ${op}`,
      );
  }
}
