/** What one reconciliation found and did; its result is what the schedule's runs show in the UI. */
export interface ReconcileReport {
  startedAt: string;
  finishedAt?: string;
  scanned: number;
  /** Workflow missing or ended though the phase is not final: started again from the stored state. */
  resumed: string[];
  /** An install this service approved that Talkdesk still shows installing: approved again. */
  reapproved: string[];
  /** Revoked, rejected or timed out at Talkdesk but live here: deprovisioned. */
  deprovisioned: string[];
  /** Completed at Talkdesk but running here: signalled markActive (the phase's state call reads Talkdesk at once). */
  markedActive: string[];
  /** An update Talkdesk timed out while it runs here: ended and reverted, the installation kept. */
  updatesEnded: string[];
  /**
   * Talkdesk's view differs and no repair is allowed (docs/lifecycle.md, "State calls"): reported
   * only, e.g. completed at Talkdesk for an install expired here, installing for one never approved.
   */
  drift: string[];
  /** Inbox events stored but never handed to their workflow. */
  dispatchedEvents: number;
  /** Credential sets whose retention had ended. */
  credentialsDestroyed: number;
  errors: { installationId: string; message: string }[];
  /**
   * Installations read at Talkdesk in this pass, and the due ones the Talkdesk budget
   * (RECONCILE_TALKDESK_CALLS_PER_MINUTE) left to a later pass. Absent from passes
   * that read every installation at Talkdesk (before the planned pass).
   */
  talkdeskChecked?: number;
  talkdeskDeferred?: number;
  /** Reads the plan scheduled (planned + deferred: those due); absent from passes planned before it was reported. */
  talkdeskPlanned?: number;
  /** Ids are listed up to this many per kind; the counts are exact. */
  counts: {
    resumed: number;
    reapproved: number;
    deprovisioned: number;
    markedActive: number;
    updatesEnded?: number;
    drift?: number;
    errors: number;
  };
}

export type PageResult = Pick<
  ReconcileReport,
  'scanned' | 'resumed' | 'reapproved' | 'deprovisioned' | 'markedActive' | 'updatesEnded' | 'drift' | 'errors' | 'talkdeskChecked'
>;

/** A planned pass (activities/reconcile-plan.ts): its pages are read by id; carried by continue-as-new. */
export interface PlannedPass {
  id: string;
  pages: number;
  /** Epoch ms the pass's minute slots count from. */
  startedAt: number;
  talkdeskPlanned: number;
  talkdeskDeferred: number;
  /** Pages done so far. */
  next?: number;
}

/** The kinds of finding listed by id. */
export const FINDING_KINDS = ['resumed', 'reapproved', 'deprovisioned', 'markedActive', 'updatesEnded', 'drift'] as const;

export const MAX_IDS_LISTED = 100;

/** A page with nothing found yet: what an activity fills in and the workflow merges. */
export function emptyPage(): PageResult {
  return { scanned: 0, resumed: [], reapproved: [], deprovisioned: [], markedActive: [], updatesEnded: [], drift: [], errors: [] };
}

export function emptyReport(startedAt: string): ReconcileReport {
  return {
    startedAt,
    scanned: 0,
    resumed: [],
    reapproved: [],
    deprovisioned: [],
    markedActive: [],
    updatesEnded: [],
    drift: [],
    dispatchedEvents: 0,
    credentialsDestroyed: 0,
    errors: [],
    counts: { resumed: 0, reapproved: 0, deprovisioned: 0, markedActive: 0, updatesEnded: 0, drift: 0, errors: 0 },
  };
}

/** Adds one page's findings to the report, keeping the id lists bounded. */
export function mergePage(report: ReconcileReport, page: PageResult): void {
  report.scanned += page.scanned;
  if (page.talkdeskChecked !== undefined) report.talkdeskChecked = (report.talkdeskChecked ?? 0) + page.talkdeskChecked;
  for (const kind of FINDING_KINDS) {
    // A report carried from a run before these kinds existed (continue-as-new) lacks them.
    const found = page[kind] ?? [];
    report.counts[kind] = (report.counts[kind] ?? 0) + found.length;
    report[kind] = [...(report[kind] ?? []), ...found].slice(0, MAX_IDS_LISTED);
  }
  report.counts.errors += page.errors.length;
  report.errors = [...report.errors, ...page.errors].slice(0, MAX_IDS_LISTED);
}
