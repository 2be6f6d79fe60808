import type { PlanEntry } from '../src/store/reconcile-plans';
import type { ScannedInstallation } from '../src/store/installations';
import { FINAL_PHASES, type InstallationPhase } from '../workflows/definitions';

/** Runs resumed from their record (`resumed_runs`) a pass looks into, the oldest first; the rest wait for the next. */
export const RESUMED_RUNS_PER_PASS = 100;

/** Phases that own an operation Talkdesk is deciding: read at Talkdesk every pass, first (within the budget, DUE_MIN_SHARE). */
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

type Scanned = ScannedInstallation;

const checkedAt = (r: Scanned): number => (r.talkdeskCheckedAt ? new Date(r.talkdeskCheckedAt).getTime() : 0);

/**
 * A minute slot after the first is opened only for at least this share of a minute's reads:
 * a smaller overflow would hold the pass a whole minute for a few reads, so it waits for the
 * next pass instead (where, least recently read, it comes first).
 */
export const LATER_SLOT_MIN_SHARE = 0.5;

/**
 * The share of a pass's reads kept for due installations not in progress when those in progress would take them all
 * (hundreds retrying for days while a partner is down): without it the due ones were deferred pass after pass, and
 * drift there (an installation revoked at Talkdesk) went unseen for as long.
 */
export const DUE_MIN_SHARE = 0.1;

/**
 * Reads the pass plans of `wanted`: the budget, less an overflow too small to open one more minute, unless that overflow
 * holds some of the first `keep` (those in progress and the due ones' share: read every pass while the budget has room).
 */
export function plannedReads(wanted: number, o: Pick<PassOptions, 'callsPerMinute' | 'budgetMinutes'>, keep = 0): number {
  const budget = Math.max(0, Math.floor(o.callsPerMinute * o.budgetMinutes));
  const reads = Math.min(budget, wanted);
  const overflow = reads % o.callsPerMinute;
  const trimmed = reads > o.callsPerMinute && overflow < o.callsPerMinute * LATER_SLOT_MIN_SHARE ? reads - overflow : reads;
  // A minute those kept must open anyway takes the due ones behind them too.
  return keep > trimmed ? reads : trimmed;
}

/** The due ones' share of `reads` (DUE_MIN_SHARE), none of a single read: in progress come first. */
const dueShare = (reads: number, due: number): number => (reads > 1 ? Math.min(due, Math.ceil(reads * DUE_MIN_SHARE)) : 0);

/**
 * Orders one pass: every installation is visited (its workflow checked, partner calls
 * retried); those in progress (all but DUE_MIN_SHARE of the budget at most), then the due ones, each least
 * recently attempted (read, or tried unanswered), get a Talkdesk read within the budget, in minute slots of `callsPerMinute`; due ones past the
 * budget (or a later slot's few, LATER_SLOT_MIN_SHARE) are deferred and, being the
 * least recently read, come first next pass. The first minute's reads lead the plan;
 * later minutes' come last, so that a page waiting for its minute holds no visits behind it.
 */
export function planPass(records: Scanned[], now: Date, o: PassOptions): PassPlan {
  const inProgress: Scanned[] = [];
  const due: Scanned[] = [];
  const rest: Scanned[] = [];
  for (const r of records) {
    if (IN_PROGRESS_PHASES.includes(r.phase)) inProgress.push(r);
    // An ended one its last visit found nothing to read with (credentials destroyed) takes no share of the budget.
    else if (FINAL_PHASES.includes(r.phase) && r.nothingToRead) rest.push(r);
    else if (r.phase !== 'new' && now.getTime() - checkedAt(r) >= o.activeCheckMs) due.push(r);
    else rest.push(r);
  }
  const oldestFirst = (a: Scanned, b: Scanned) => checkedAt(a) - checkedAt(b) || (a._id < b._id ? -1 : 1);
  // Due ones by their last attempt, read or not (a read that went unanswered, its host paused or down, counts): else a
  // host down for hours fills every pass's reads with its own backlog. Still due, each comes back into turn once those
  // attempted before it have had theirs (a tier of their own would never come back while due ones exceed the budget).
  const attemptedAt = (r: Scanned) => Math.max(checkedAt(r), r.triedAt ? new Date(r.triedAt).getTime() : 0);
  const leastRecentlyAttempted = (a: Scanned, b: Scanned) => attemptedAt(a) - attemptedAt(b) || oldestFirst(a, b);
  const all = inProgress.length + due.length;
  const reads = plannedReads(all, o, inProgress.length + dueShare(plannedReads(all, o, all), due.length));
  // In progress first, but never all of the reads while due ones wait (DUE_MIN_SHARE); the rest of them deferred.
  const ahead = Math.min(inProgress.length, reads - dueShare(reads, due.length));
  // Those in progress too: a region down for hours with a backlog of installs took every in-progress read, each pass.
  inProgress.sort(leastRecentlyAttempted);
  const wanted = [...inProgress.slice(0, ahead), ...due.sort(leastRecentlyAttempted), ...inProgress.slice(ahead)];
  // Each costs an inbox listing (the whole collection on the embedded store): the oldest few per pass.
  const marked = records.filter((r) => r.resumedAt).sort((a, b) => a.resumedAt!.getTime() - b.resumedAt!.getTime());
  const looked = new Set(marked.slice(0, RESUMED_RUNS_PER_PASS).map((r) => r._id));
  const resumed = (r: Scanned) => (r.resumedAt && looked.has(r._id) ? { resumedAt: r.resumedAt } : {});
  const slotted = (r: Scanned, j: number): PlanEntry => ({
    id: r._id,
    phase: r.phase,
    slot: Math.floor(j / o.callsPerMinute),
    ...resumed(r),
  });
  const visit = (r: Scanned): PlanEntry => ({ id: r._id, phase: r.phase, ...resumed(r) });
  const firstMinute = Math.min(reads, o.callsPerMinute);
  const entries = [
    ...wanted.slice(0, firstMinute).map(slotted),
    ...wanted.slice(reads).map(visit),
    ...rest.map(visit),
    ...wanted.slice(firstMinute, reads).map((r, j) => slotted(r, firstMinute + j)),
  ];
  const pages: PlanEntry[][] = [];
  for (let i = 0; i < entries.length; i += o.pageSize) pages.push(entries.slice(i, i + o.pageSize));
  return { pages, talkdeskPlanned: reads, talkdeskDeferred: wanted.length - reads };
}

/** A visit without a Talkdesk read needs the workflow to run only for a live phase. */
export const needsWorkflow = (phase: InstallationPhase): boolean => phase !== 'new' && !FINAL_PHASES.includes(phase);
