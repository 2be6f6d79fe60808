/** What one reconciliation found and did; its result is what the schedule's runs show in the UI. */
export interface ReconcileReport {
  startedAt: string;
  finishedAt?: string;
  scanned: number;
  /** Workflow missing or ended though the phase is not final: started again from the stored state. */
  resumed: string[];
  /** Approved by us but still installing or pending at Talkdesk: approved again. */
  reapproved: string[];
  /** Revoked, rejected or timed out at Talkdesk but live here: deprovisioned. */
  deprovisioned: string[];
  /** Completed at Talkdesk but stuck here: marked active. */
  markedActive: string[];
  /** Inbox events stored but never handed to their workflow. */
  dispatchedEvents: number;
  /** Credential sets whose retention had ended. */
  credentialsDestroyed: number;
  errors: { installationId: string; message: string }[];
  /** Ids are listed up to this many per kind; the counts are exact. */
  counts: { resumed: number; reapproved: number; deprovisioned: number; markedActive: number; errors: number };
}

export type PageResult = Pick<ReconcileReport, 'scanned' | 'resumed' | 'reapproved' | 'deprovisioned' | 'markedActive' | 'errors'>;

export const MAX_IDS_LISTED = 100;

export function emptyReport(startedAt: string): ReconcileReport {
  return {
    startedAt,
    scanned: 0,
    resumed: [],
    reapproved: [],
    deprovisioned: [],
    markedActive: [],
    dispatchedEvents: 0,
    credentialsDestroyed: 0,
    errors: [],
    counts: { resumed: 0, reapproved: 0, deprovisioned: 0, markedActive: 0, errors: 0 },
  };
}

/** Adds one page's findings to the report, keeping the id lists bounded. */
export function mergePage(report: ReconcileReport, page: PageResult): void {
  report.scanned += page.scanned;
  for (const kind of ['resumed', 'reapproved', 'deprovisioned', 'markedActive'] as const) {
    report.counts[kind] += page[kind].length;
    report[kind] = [...report[kind], ...page[kind]].slice(0, MAX_IDS_LISTED);
  }
  report.counts.errors += page.errors.length;
  report.errors = [...report.errors, ...page.errors].slice(0, MAX_IDS_LISTED);
}
