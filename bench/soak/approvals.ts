import type { PhaseRecord, PhaseResult } from '../../workflows/definitions';

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
