import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { emptyPage, emptyReport, mergePage, type ReconcileReport } from './reconcile-types';

export interface ReconcileInput {
  pageSize?: number;
  parallelism?: number;
  /** Carried by continue-as-new: where the scan stands and what it found so far. */
  cursor?: string;
  report?: ReconcileReport;
}

const housekeeping = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
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
