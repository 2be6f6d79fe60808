import type { PlanEntry } from '../src/store/reconcile-plans';
import type { InstallationRecord } from '../src/store/installations';
import { FINAL_PHASES, type InstallationPhase } from '../workflows/definitions';

/** Phases that own an operation Talkdesk is deciding: read at Talkdesk every pass, first. */
export const IN_PROGRESS_PHASES: readonly InstallationPhase[] = ['installing', 'updating', 'uninstalling'];

export interface PassOptions {
  pageSize: number;
  /** An active (or final) installation is read at Talkdesk again once its last read is this old. */
  activeCheckMs: number;
  /** Talkdesk reads started per minute of the pass. */
  callsPerMinute: number;
  /** Minutes of the pass the reads may spread over: the pass spends at most callsPerMinute × this. */
  budgetMinutes: number;
}

export interface PassPlan {
  pages: PlanEntry[][];
  /** Talkdesk reads the plan schedules, and the due ones it leaves to a later pass. */
  talkdeskPlanned: number;
  talkdeskDeferred: number;
}

type Scanned = Pick<InstallationRecord, '_id' | 'phase' | 'talkdeskCheckedAt'>;

const checkedAt = (r: Scanned): number => (r.talkdeskCheckedAt ? new Date(r.talkdeskCheckedAt).getTime() : 0);

/**
 * Orders one pass: every installation is visited (its workflow checked, partner calls
 * retried); those in progress, then the due ones least recently read, get a Talkdesk
 * read within the budget, in minute slots of `callsPerMinute`; due ones past the
 * budget are deferred and, being the least recently read, come first next pass.
 */
export function planPass(records: Scanned[], now: Date, o: PassOptions): PassPlan {
  const inProgress: Scanned[] = [];
  const due: Scanned[] = [];
  const rest: Scanned[] = [];
  for (const r of records) {
    if (IN_PROGRESS_PHASES.includes(r.phase)) inProgress.push(r);
    else if (r.phase !== 'new' && now.getTime() - checkedAt(r) >= o.activeCheckMs) due.push(r);
    else rest.push(r);
  }
  const oldestFirst = (a: Scanned, b: Scanned) => checkedAt(a) - checkedAt(b) || (a._id < b._id ? -1 : 1);
  const wanted = [...inProgress.sort(oldestFirst), ...due.sort(oldestFirst)];
  const budget = Math.max(0, Math.floor(o.callsPerMinute * o.budgetMinutes));
  const entries: PlanEntry[] = wanted.map((r, j) =>
    j < budget ? { id: r._id, phase: r.phase, slot: Math.floor(j / o.callsPerMinute) } : { id: r._id, phase: r.phase },
  );
  for (const r of rest) entries.push({ id: r._id, phase: r.phase });
  const pages: PlanEntry[][] = [];
  for (let i = 0; i < entries.length; i += o.pageSize) pages.push(entries.slice(i, i + o.pageSize));
  return { pages, talkdeskPlanned: Math.min(budget, wanted.length), talkdeskDeferred: Math.max(0, wanted.length - budget) };
}

/** A visit without a Talkdesk read needs the workflow to run only for a live phase. */
export const needsWorkflow = (phase: InstallationPhase): boolean => phase !== 'new' && !FINAL_PHASES.includes(phase);
