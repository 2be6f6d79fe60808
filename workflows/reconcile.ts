import { continueAsNew, isCancellation, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { emptyPage, emptyReport, mergePage, type PageResult, type PlannedPass, type ReconcileReport } from './reconcile-types';

export interface ReconcileInput {
  pageSize?: number;
  parallelism?: number;
  /** RECONCILE_ACTIVE_CHECK_HOURS: an active installation is read at Talkdesk about once per this many hours (default 24). */
  activeCheckHours?: number;
  /** RECONCILE_TALKDESK_CALLS_PER_MINUTE: Talkdesk reads started per minute of a pass (default 120). */
  talkdeskCallsPerMinute?: number;
  /** RECONCILE_INTERVAL_MINUTES: a pass spreads its Talkdesk reads over at most half of it (default 15). */
  intervalMinutes?: number;
  /** Carried by continue-as-new: where the scan stands and what it found so far. */
  cursor?: string;
  plan?: PlannedPass;
  report?: ReconcileReport;
}

/** The planned pass (reads each record once, Talkdesk within a budget); histories from before it replay the id scan. */
export const PLANNED_PASS_PATCH = 'reconcile-planned-pass';

/**
 * A planned page that fails for good (its retries spent) is reported in the pass's `errors` and the pass goes on;
 * before, it failed the pass and left the pages after it unvisited, every pass while it kept failing.
 */
export const PAGE_FAILURES_REPORTED_PATCH = 'reconcile-page-failures-reported';

/**
 * The inbox hand-over, the backstops, the id scan and the plan heartbeat throughout: an attempt lost with its worker
 * (killed, or its completion lost in a Temporal restart) is retried after a minute, not after the whole 5 minutes
 * (the pass, and every scheduled pass skipped behind it, waited). Only the command's timeouts change: replay-safe.
 */
const housekeeping = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
});
const pages = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
});

/**
 * Repairs drift between Talkdesk, MongoDB and the running installation workflows,
 * page by page with several pages in parallel; each page is one activity, so the
 * history stays small however many installations there are.
 */
export async function reconcileWorkflow(input: ReconcileInput = {}): Promise<ReconcileReport> {
  const pageSize = input.pageSize ?? 200;
  const parallelism = input.parallelism ?? 4;
  const report = input.report ?? emptyReport(new Date().toISOString());
  let cursor = input.cursor;

  if (!input.report) {
    const stored = await housekeeping.dispatchStoredEvents({ limit: 1_000 });
    report.dispatchedEvents += stored.dispatched;
    // Results of workers from before `errors` existed lack it.
    mergePage(report, { ...emptyPage(), errors: stored.errors ?? [] });
    report.credentialsDestroyed += (await housekeeping.destroyRetiredCredentials({ limit: 1_000 })).destroyed;
  }

  // A run continued from the id scan keeps scanning; a new pass is planned.
  if (input.plan || (input.cursor === undefined && patched(PLANNED_PASS_PATCH))) {
    return plannedPass(input, pageSize, parallelism, report);
  }

  for (let done = false; !done;) {
    const batch: string[][] = [];
    while (batch.length < parallelism) {
      const page = await housekeeping.listInstallationPage({ afterId: cursor, limit: pageSize });
      if (page.ids.length > 0) {
        batch.push(page.ids);
        cursor = page.ids[page.ids.length - 1];
      }
      if (page.ids.length < pageSize) {
        done = true;
        break;
      }
    }
    const results = await Promise.all(batch.map((ids) => pages.reconcileInstallations({ installationIds: ids })));
    for (const r of results) mergePage(report, r);
    if (!done && workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof reconcileWorkflow>({ pageSize, parallelism, cursor, report });
    }
  }
  report.finishedAt = new Date().toISOString();
  return report;
}

/**
 * A page waits for its minute slots, up to the budget's spread (half the interval): its timeout is that and
 * a quarter of an hour more, never under 30 minutes (a fixed 30 timed out, attempt after attempt, the pages
 * of an interval of two hours or more). Only the command's timeout changes, which replay does not compare.
 */
const plannedPagesWithin = (budgetMinutes: number) =>
  proxyActivities<Activities>({
    startToCloseTimeout: `${Math.max(30, budgetMinutes + 15)} minutes`,
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumAttempts: 5 },
  });

/** Plans the pass from one read of every record, then reconciles its pages, `parallelism` at a time. */
async function plannedPass(
  input: ReconcileInput,
  pageSize: number,
  parallelism: number,
  report: ReconcileReport,
): Promise<ReconcileReport> {
  const budgetMinutes = Math.max(1, Math.floor((input.intervalMinutes ?? 15) / 2));
  const plannedPages = plannedPagesWithin(budgetMinutes);
  const plan =
    input.plan ??
    (await housekeeping.planReconciliation({
      planId: workflowInfo().firstExecutionRunId,
      pageSize,
      activeCheckHours: input.activeCheckHours ?? 24,
      talkdeskCallsPerMinute: input.talkdeskCallsPerMinute ?? 120,
      budgetMinutes,
    }));
  if (!input.plan) {
    report.talkdeskChecked ??= 0;
    report.talkdeskPlanned = (report.talkdeskPlanned ?? 0) + plan.talkdeskPlanned;
    report.talkdeskDeferred = (report.talkdeskDeferred ?? 0) + plan.talkdeskDeferred;
  }
  const reportFailures = patched(PAGE_FAILURES_REPORTED_PATCH);
  for (let next = plan.next ?? 0; next < plan.pages;) {
    const batch = Array.from({ length: Math.min(parallelism, plan.pages - next) }, (_, i) => next + i);
    // The budget per minute too (activity input only): a late page must not send its open slots' reads at once.
    const callsPerMinute = input.talkdeskCallsPerMinute ?? 120;
    const visits = batch.map((page) =>
      plannedPages.reconcilePlannedPage({ planId: plan.id, page, startedAt: plan.startedAt, callsPerMinute }),
    );
    const results = reportFailures ? await Promise.allSettled(visits) : (await Promise.all(visits)).map(fulfilled);
    // A cancelled pass (an operator's cancel) ends cancelled, not reported page by page and gone on.
    const cancelled = results.find((r) => r.status === 'rejected' && isCancellation(r.reason));
    if (cancelled?.status === 'rejected') throw cancelled.reason;
    results.forEach((r, k) => mergePage(report, r.status === 'fulfilled' ? r.value : failedPage(batch[k]!, r.reason)));
    next += batch.length;
    if (next < plan.pages && workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof reconcileWorkflow>({ ...input, pageSize, parallelism, plan: { ...plan, next }, report });
    }
  }
  report.finishedAt = new Date().toISOString();
  return report;
}

const fulfilled = <T>(value: T): PromiseSettledResult<T> => ({ status: 'fulfilled', value });

/** A page whose activity failed for good, as the pass reports it: one error naming the page. */
function failedPage(page: number, reason: unknown): PageResult {
  const err = reason as { message?: string; cause?: { message?: string } } | undefined;
  const message = err?.cause?.message ?? err?.message ?? String(reason);
  return { ...emptyPage(), errors: [{ installationId: `(page ${page})`, message: `page ${page} not reconciled: ${message}` }] };
}
