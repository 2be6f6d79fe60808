import { Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createDispatch, handOverStored, HAND_OVER_TIMEOUT_MS, skipHandled } from '../src/handover';
import type { InstallationRecord } from '../src/store/installations';
import { showsOperationOpen } from '../src/talkdesk/concluded';
import { FINAL_PHASES, reconcileSignal, workflowIdFor } from '../workflows/definitions';
import { emptyPage, type PageResult, type PlannedPass } from '../workflows/reconcile-types';
import { needsWorkflow, planPass } from './reconcile-plan';
import { createResumer } from './reconcile-resume';
import { listedRunning, runningInstallationWorkflows, workflowRunning as isRunning } from './reconcile-visibility';
import type { ActivityDeps } from './deps';
import { toFailure } from './failures';
import { StoreMarkers } from '../src/store/markers';
import { withToken } from './talkdesk-calls';
import { createTalkdeskReader } from './reconcile-read';
import { whileHeartbeating } from './partner-calls';
import { partnerResender } from './reconcile-partner';
import { newVisit, ReadWindow, repairFailedForNow, TalkdeskPause, waitHeartbeating, type TalkdeskVisit } from './reconcile-pacing';
import { BACKSTOP_EVERY_MS, CREDENTIALS_BACKSTOP_MARKER, INBOX_BACKSTOP_MARKER, PENDING_SET_MAX_AGE_MS } from './reconcile-backstops';

export { BACKSTOP_EVERY_MS, CREDENTIALS_BACKSTOP_MARKER, INBOX_BACKSTOP_MARKER, PENDING_SET_MAX_AGE_MS } from './reconcile-backstops';

type Finding = 'resumed' | 'reapproved' | 'deprovisioned' | 'markedActive' | 'updatesEnded' | 'drift' | undefined;

const APPROVE = { state: 'approve' } as const;

/** Activities of the reconciliation workflow; they need a Temporal client in their deps. */
export function reconciliationActivities(deps: ActivityDeps) {
  const { store, logger } = deps;
  const markers = new StoreMarkers(store.db);
  const temporal = () => {
    if (!deps.temporal) throw new Error('reconciliation activities need a Temporal client (deps.temporal)');
    return deps.temporal;
  };
  // An event its workflow already finished is not handed over again (no empty new run).
  const dispatch = () => skipHandled(createDispatch(temporal(), HAND_OVER_TIMEOUT_MS.reconciliation), store.installations);

  const workflowRunning = (installationId: string) => isRunning(temporal(), installationId);

  const { resume, handOverLostEvents, checkResumedRun } = createResumer({ store, dispatch, temporal });

  // A re-approval's 5xx, 429 or pause, a signal with Temporal down: due next pass. A refusal: checked (not first every pass).
  const dueIfRepairFailed = (visit: TalkdeskVisit) => (err: unknown) => {
    if (visit.read && repairFailedForNow(err)) visit.repairDue = true;
    throw err;
  };
  const pause = new TalkdeskPause();
  const retryPartnerCalls = partnerResender(deps);
  const readWindow = new ReadWindow();

  const talkdeskView = createTalkdeskReader(deps, pause);

  const changedSince = (a: InstallationRecord, b: InstallationRecord | null) => b?.phase !== a.phase || b.lastEventAt !== a.lastEventAt;
  const drift = (rec: InstallationRecord, talkdeskState: string): Finding => {
    logger.warn({ installationId: rec._id, phase: rec.phase, talkdeskState }, 'Talkdesk differs and no repair is allowed: reported');
    return 'drift';
  };

  /**
   * Compares one installation with its workflow and Talkdesk and repairs what the table of docs/lifecycle.md ("State
   * calls") allows: never a state call for a `pending` operation (the workflow's update or uninstall phase owns it), an
   * approval again only for an install this service approved, only the part the drift concerns (an update timed out).
   */
  async function reconcileOne(rec: InstallationRecord, visit: TalkdeskVisit = newVisit()): Promise<Finding> {
    // Partner calls kept for later (an undo the partner did not answer) are sent again, whatever the phase.
    await retryPartnerCalls(rec._id);
    if (rec.phase === 'new') return undefined;
    if (FINAL_PHASES.includes(rec.phase)) {
      // Over here: Talkdesk showing an operation completed or open is drift to report; no phase may send for it.
      const view = await talkdeskView(rec, visit);
      const shown = view?.state.state;
      return shown === 'completed' || shown === 'installing' || showsOperationOpen(shown) ? drift(rec, shown) : undefined;
    }
    if (!(await workflowRunning(rec._id))) {
      // Read again, as visitWorkflowOnly does: the partner calls above can take minutes, and an uninstall may end it meanwhile.
      const fresh = await store.installations.get(rec._id);
      if (!fresh || !needsWorkflow(fresh.phase)) return undefined;
      // Started meanwhile (a stored event's hand-over): Talkdesk not read, so still due (not recorded as checked).
      if (await workflowRunning(rec._id)) return void (visit.repairDue = true);
      await resume(fresh);
      return 'resumed';
    }
    if (await handOverLostEvents(rec)) return 'resumed';
    const view = await talkdeskView(rec, visit);
    if (!view) return undefined;
    // Decided on the record as it is after the read (its budget's wait, a token): a phase moved meanwhile (an install
    // approved, then an update rejected, which Talkdesk shows `rejected`) is not repaired from the old one; due next pass.
    const fresh = await store.installations.get(rec._id);
    if (!fresh || changedSince(rec, fresh)) return void (visit.repairDue = true);
    // The operation it was judged on: a workflow that has moved on since (a reinstall begun) ignores the action.
    const seen = { phase: fresh.phase, ...(fresh.phaseEventId ? { phaseEventId: fresh.phaseEventId } : {}) };
    const talkdeskState: string = view.state.state;
    const handle = temporal().client.workflow.getHandle(workflowIdFor(rec._id));
    if (rec.phase === 'active' && talkdeskState === 'installing') {
      if (!rec.installApprovedAt) return drift(rec, talkdeskState);
      const { ref } = view;
      let sent = false;
      try {
        // Within the pass's 429 pause, as reads are (left to the next pass); a 429 here pauses the calls after it.
        pause.check('approval', ref.rootUrl);
        const approve = (token: string) => (
          (sent = true),
          deps.talkdesk.setInstallationState(ref.rootUrl, ref.appId, ref.installationId, token, APPROVE)
        );
        await whileHeartbeating(`approving ${ref.installationId} again`, () => withToken(deps, ref, approve));
      } catch (err) {
        // Not sent, or failed for now: due next pass (the planned visit). Only the API host's own answer pauses its calls.
        if (sent) pause.note(err, ref.rootUrl);
        throw err;
      }
      return 'reapproved';
    }
    if (talkdeskState === 'timeout' && rec.phase !== 'installing') {
      // Past installing, what timed out is an update of an approved install: end it if it runs here (the installation stays).
      // `approvedAt` is the evidence on records before `installApprovedAt` (never backfilled). Without either: reported.
      if (rec.phase !== 'updating' || !(rec.installApprovedAt ?? rec.approvedAt)) return drift(rec, talkdeskState);
      await handle.signal(reconcileSignal, { action: 'endUpdate', talkdeskState: 'timeout', reason: view.state.reason ?? undefined, seen });
      return 'updatesEnded';
    }
    if (talkdeskState === 'rejected' && rec.phase !== 'installing') {
      // Only this service's reject puts an installation in `rejected`. Past an approved install that is a
      // rejected update (a refused one, or an operator's reject), which keeps the installation at Talkdesk
      // and here: nothing to repair. Without evidence of an approval, reported, never deprovisioned.
      return (rec.installApprovedAt ?? rec.approvedAt) ? undefined : drift(rec, talkdeskState);
    }
    if (talkdeskState === 'revoked' || talkdeskState === 'rejected' || talkdeskState === 'timeout') {
      const ended = talkdeskState as 'revoked' | 'rejected' | 'timeout';
      // Talkdesk's time of the revoke: the uninstall it ended with, delivered later, is then known as that end's.
      const endedAt = ended === 'revoked' ? view.state.updated_at : undefined;
      const action = { action: 'deprovision', talkdeskState: ended, reason: view.state.reason ?? undefined, seen } as const;
      await handle.signal(reconcileSignal, endedAt === undefined ? action : { ...action, endedAt });
      return 'deprovisioned';
    }
    if ((rec.phase === 'installing' || rec.phase === 'updating') && talkdeskState === 'completed') {
      await handle.signal(reconcileSignal, { action: 'markActive', talkdeskState: 'completed', seen });
      return 'markedActive';
    }
    // States the reference lists without saying what follows them: nothing here may repair them, so they are reported.
    if (talkdeskState === 'failed' || talkdeskState === 'suspended') return drift(rec, talkdeskState);
    return undefined;
  }

  /**
   * The page's attempt was cancelled (the pass cancelled by an operator, or the attempt timed out and retried beside
   * itself): it stops before its next installation, reading and repairing nothing more.
   */
  const stopIfCancelled = () => Context.current().cancellationSignal.throwIfAborted();

  /** Records what one installation's check found in the page's result; one installation's trouble never stops the pass. */
  async function visit(result: PageResult, id: string, check: () => Promise<Finding>): Promise<void> {
    try {
      const found = await check();
      if (found) {
        result[found].push(id);
        logger.info({ installationId: id, workflowId: workflowIdFor(id), found }, 'reconciliation repaired drift');
      }
    } catch (err) {
      // A cancellation met inside the check (a wait for the read budget) stops the page: not this installation's trouble.
      if (Context.current().cancellationSignal.aborted) throw err;
      // Its message is safe (typed failure); logged too, so that operators see it without opening the pass's result.
      const { message } = toFailure(err);
      result.errors.push({ installationId: id, message });
      const fields = { installationId: id, workflowId: workflowIdFor(id), error: message };
      logger.warn(fields, 'reconciliation could not check or repair an installation');
    }
  }

  /** Waits, heartbeating, until the minute slot of the pass opens (the Talkdesk budget's spread). */
  const slotOpen = (startedAt: number, slot: number) => waitHeartbeating(startedAt + slot * 60_000, `slot ${slot}`);

  /** A visit without a Talkdesk read: partner calls retried, a lost workflow resumed from the fresh record. */
  async function visitWorkflowOnly(id: string, plannedPhase: InstallationRecord['phase'], listed: boolean | undefined): Promise<Finding> {
    await retryPartnerCalls(id);
    if (!needsWorkflow(plannedPhase) || listed || (await workflowRunning(id))) return undefined;
    const rec = await store.installations.get(id);
    if (!rec || !needsWorkflow(rec.phase) || (await workflowRunning(id))) return undefined;
    await resume(rec);
    return 'resumed';
  }

  return {
    /**
     * Plans a pass from one read of every record (docs/operations.md, "Reconciliation"):
     * writes its pages, returns how many and what the Talkdesk budget allows.
     */
    async planReconciliation(input: {
      planId: string;
      pageSize: number;
      activeCheckHours: number;
      talkdeskCallsPerMinute: number;
      budgetMinutes: number;
    }): Promise<PlannedPass> {
      const now = new Date();
      const records = await store.installations.scanForReconciliation();
      const plan = planPass(records, now, {
        pageSize: input.pageSize,
        activeCheckMs: input.activeCheckHours * 3_600_000,
        callsPerMinute: input.talkdeskCallsPerMinute,
        budgetMinutes: input.budgetMinutes,
      });
      // Listed running now: its page does not ask again (one that ends meanwhile is seen next pass).
      const running = await runningInstallationWorkflows(temporal(), logger);
      if (running) {
        for (const page of plan.pages)
          for (const e of page) if (e.slot === undefined && needsWorkflow(e.phase)) e.running = running.has(workflowIdFor(e.id));
      }
      await store.reconcilePlans.write(input.planId, plan.pages, now);
      return {
        id: input.planId,
        pages: plan.pages.length,
        startedAt: Date.now(),
        talkdeskPlanned: plan.talkdeskPlanned,
        talkdeskDeferred: plan.talkdeskDeferred,
      };
    },

    /** One planned page: Talkdesk read for the entries with a slot (in it), the workflow checked for the others. */
    async reconcilePlannedPage(input: { planId: string; page: number; startedAt: number; callsPerMinute?: number }): Promise<PageResult> {
      const result = { ...emptyPage(), talkdeskChecked: 0 };
      const entries = await store.reconcilePlans.page(input.planId, input.page);
      const retried = Context.current().info.attempt > 1;
      // Dropped by a later pass's plan (a pass started by hand beside this one, past the plans' hour): said, not read as empty.
      if (!entries)
        throw ApplicationFailure.nonRetryable(
          `page ${input.page} of plan ${input.planId} is gone: not checked; the next pass plans afresh`,
          'PlanPageGone',
        );
      // Entries planned before the plan listed running workflows (or when its listing failed) are queried here.
      const unlisted = entries.filter((e) => e.slot === undefined && needsWorkflow(e.phase) && e.running === undefined);
      const listed =
        unlisted.length > 0
          ? await listedRunning(
              temporal(),
              unlisted.map((e) => e.id),
              logger,
            )
          : new Set<string>();
      for (const entry of entries) {
        heartbeat(entry.id);
        stopIfCancelled();
        result.scanned += 1;
        const { resumedAt } = entry; // a run resumed from the record: what its lost run had queued
        if (resumedAt) await visit(result, entry.id, () => checkResumedRun(entry.id, resumedAt));
        if (entry.slot === undefined) {
          const running = entry.running ?? listed?.has(workflowIdFor(entry.id));
          await visit(result, entry.id, () => visitWorkflowOnly(entry.id, entry.phase, running));
          continue;
        }
        // A retried attempt skips what an earlier one read and recorded in this pass: its reads counted against the
        // budget, and its repairs were sent (one that failed is not recorded; what it found is in that attempt's log
        // lines, not this page's result). Reconciliation's own checks only: a workflow's approval is no read of this pass.
        // Known by the pass's plan id, not by comparing times (the planning worker's clock and this one's may differ).
        if (retried && (await store.installations.checkedInPass(entry.id, input.planId))) continue;
        await slotOpen(input.startedAt, entry.slot);
        let considered = false;
        const n = input.callsPerMinute; // the budget is spent as the read is sent (talkdeskView), not before the visit's work
        const turn = (at: number) => ({ giveBack: () => readWindow.giveBack(at) });
        const seen = newVisit(n ? () => readWindow.take(n, `budget of ${n} reads a minute`).then(turn) : undefined); // a retried page's own
        await visit(result, entry.id, async () => {
          const rec = await store.installations.get(entry.id);
          const found = rec ? await reconcileOne(rec, seen).catch(dueIfRepairFailed(seen)) : undefined;
          considered = found !== 'resumed'; // resumed: the workflow was missing, Talkdesk not read; still due
          return found;
        });
        if (seen.read) result.talkdeskChecked += 1;
        // One with nothing to read Talkdesk with (an ended installation's credentials destroyed)
        // counts as checked too, or it would take a share of the budget every pass; so does one whose
        // read Talkdesk refused for good (404, 401): it goes behind the others, not first again. A 5xx or
        // a timeout does not (an outage must not push every installation a window back), nor a repair failed for now.
        if ((seen.read || considered || seen.refused) && !seen.repairDue) {
          await store.installations
            .markCheckedByReconciliation(entry.id, new Date(), seen.nothingToRead, input.planId)
            .catch((err: unknown) => {
              logger.warn({ installationId: entry.id, err }, 'Talkdesk check not recorded: checked again next pass');
            });
        } else {
          // Still due, ordered by this try (planPass): one host paused or down for hours must not fill every pass's
          // reads with its own and starve the other hosts' checks; nor may installations resumed every pass (a
          // workflow that fails at each start, Talkdesk never read) or whose repair keeps failing take the first reads.
          await store.installations.markTriedByReconciliation(entry.id, new Date()).catch((err: unknown) => {
            logger.warn({ installationId: entry.id, err }, 'Talkdesk read not recorded as tried');
          });
        }
      }
      return result;
    },

    /** One page of installation ids, in id order after `afterId`. */
    async listInstallationPage(input: { afterId?: string; limit: number }): Promise<{ ids: string[] }> {
      const recs = await store.installations.page(input.afterId, input.limit);
      return { ids: recs.map((r) => r._id) };
    },

    /** Checks each installation of a page against its workflow and Talkdesk, and repairs drift. */
    async reconcileInstallations(input: { installationIds: string[] }): Promise<PageResult> {
      const result = emptyPage();
      for (const id of input.installationIds) {
        heartbeat(id);
        stopIfCancelled();
        result.scanned += 1;
        const rec = await store.installations.get(id);
        if (!rec) continue;
        await visit(result, id, () => reconcileOne(rec)); // this pass reads every installation: nothing to record
      }
      return result;
    },

    /** Hands over inbox events that were stored but never dispatched; one failing hand-over is reported, not fatal. */
    async dispatchStoredEvents(input: { limit: number }): Promise<{ dispatched: number; errors: PageResult['errors'] }> {
      // The whole-inbox scan for events without a queue entry runs at most once a day (docs/handover.md).
      let scanned = false;
      await markers.every(INBOX_BACKSTOP_MARKER, BACKSTOP_EVERY_MS, async () => {
        // Not capped at the hand-over's limit: what it queues beyond that, the dispatcher hands over.
        await store.inbox.requeueUndispatched();
        scanned = true;
      });
      const { handed, failed } = await handOverStored(store.inbox, dispatch(), input.limit, { requeue: false });
      if (scanned) logger.info({ handed }, 'reconciliation: whole-inbox backstop ran');
      for (const f of failed)
        logger.warn({ installationId: f.installationId, eventId: f.eventId, reason: f.message }, 'stored event not handed over');
      return {
        dispatched: handed,
        errors: failed.map((f) => ({ installationId: f.installationId, message: `event ${f.eventId} not handed over: ${f.message}` })),
      };
    },

    /**
     * Destroys rotated credentials whose grace period ended (a backstop for the workflow's own timer),
     * and sets left pending past PENDING_SET_MAX_AGE_MS (no workflow holds them any more).
     */
    async destroyRetiredCredentials(input: { limit: number }): Promise<{ destroyed: number }> {
      // Reads the whole credentials collection on the embedded store: at most once a day.
      let destroyed = 0;
      await markers.every(CREDENTIALS_BACKSTOP_MARKER, BACKSTOP_EVERY_MS, async () => {
        const now = new Date();
        const pendingBefore = new Date(now.getTime() - PENDING_SET_MAX_AGE_MS);
        for (const rec of await store.credentials.listDueForDestruction(now, input.limit, pendingBefore)) {
          // Only the set listed (`rec`): not one a same-client reinstall imported over it since, pending too.
          if (await store.credentials.destroy(rec.installationId, rec.clientId, rec.status, rec)) destroyed += 1;
        }
        await store.tokenGrants.sweep(now); // notes of sets no longer fresh (activities/tokens.ts)
        await store.credentials.sweepExpiredTokens(now);
      });
      return { destroyed };
    },
  };
}
