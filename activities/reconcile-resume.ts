import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { resumeInstallation, type Dispatch, type InboxRecord, type InstallationTarget } from '../src/handover';
import type { Store } from '../src/store';
import { IN_PROGRESS_PHASES, needsWorkflow } from './reconcile-plan';
import { workflowRunning } from './reconcile-visibility';
import { MAX_HANDLED, TYPE_ORDER } from '../workflows/state';
import type { InstallationRecord, ResumedFrom } from '../src/store/installations';
import {
  FINAL_PHASES,
  stateQuery,
  workflowIdFor,
  type EventType,
  type InstallationPhase,
  type InstallationView,
} from '../workflows/definitions';

// What reconciliation hands over when it resumes a lost installation workflow (reconciliation.ts `resume`).

/** The event that opens each phase owning a Talkdesk operation: what resuming it hands over. */
export const PHASE_EVENT_TYPES: Partial<Record<InstallationPhase, EventType>> = {
  installing: 'app.installed',
  updating: 'app.updated',
  uninstalling: 'app.uninstalled',
};

/**
 * Stored events the record shows neither handled nor superseded: not in its last handled ids, and not
 * older than the newest event applied (`lastEventAt`; the same second counts: Talkdesk's times have
 * one-second resolution), so an older one that fell out of the handled ids is not applied again. Installs,
 * updates and uninstalls record the installation as their phase begins and ends, so one missing from the
 * handled ids was not applied: a lost run had it queued (the inbox marked it handed over, so nothing else
 * hands it over again). Rotations too (the record stays in its phase while one runs), except one already
 * switched to, judged against the newest rotation applied (`rotationEventAt`; else the install's time) while the
 * installation lives. Not trial events: they record nothing, so an applied one would look unhandled. Oldest first.
 */
export function unhandledEvents(rec: InstallationRecord, events: InboxRecord[]): InboxRecord[] {
  const since = rec.lastEventAt ? Date.parse(rec.lastEventAt) : -Infinity;
  // A record that names no event applied (written by older versions) tells nothing of the others: rotations only, as before.
  const types = rec.lastEventAt && rec.handledEventIds ? RECORDED_TYPES : ['app.credentials_rotated'];
  const handled = (e: InboxRecord) => rec.handledEventIds?.includes(e._id) ?? false;
  // Already switched to (a rotation that fell out of the handled ids, in the second of the newest applied).
  const switchedTo = (e: InboxRecord) => e.type === 'app.credentials_rotated' && clientOf(e) === rec.activeClientId;
  const at = (e: InboxRecord) => Date.parse(e.event.createdAt);
  const rotations = events.filter((e) => e.type === 'app.credentials_rotated');
  // A rotation older than `lastEventAt` is late only against a newer rotation applied (the workflow's own rule): one
  // queued behind a newer update under way when the run was lost was never applied, its set never imported. While the
  // installation lives, and not older than its install (an earlier life's) nor than the newest rotation it applied.
  // The later of the two: a rotation an earlier life applied (`rotationEventAt` is kept across a same-id reinstall) is older than this life's install.
  const floors = [rec.rotationEventAt, rec.installEventAt].filter((t): t is string => t !== undefined).map((t) => Date.parse(t));
  const rotationFloor = FINAL_PHASES.includes(rec.phase) || floors.length === 0 ? since : Math.max(...floors);
  const lateRotation = (e: InboxRecord) => at(e) < rotationFloor || rotations.some((r) => at(r) > at(e) && (handled(r) || switchedTo(r)));
  return events.filter((e) => {
    if (!types.includes(e.type) || handled(e) || switchedTo(e)) return false;
    if (at(e) >= since) return true;
    return e.type === 'app.credentials_rotated' && !lateRotation(e);
  });
}

const clientOf = (e: InboxRecord): unknown => (e.event.facts as { client_id?: unknown }).client_id;

const RECORDED_TYPES: readonly EventType[] = ['app.installed', 'app.updated', 'app.uninstalled', 'app.credentials_rotated'];

/**
 * The event of the record's unfinished phase: the one it names (`phaseEventId`: a late update runs an event older than
 * the newest of its type), else the newest of that phase's type, else the newest of any (records written before it),
 * or undefined when the record shows no phase under way.
 */
export function phaseEvent(rec: InstallationRecord, events: InboxRecord[]): InboxRecord | undefined {
  const type = PHASE_EVENT_TYPES[rec.phase];
  if (!type) return undefined;
  const named = rec.phaseEventId === undefined ? undefined : events.find((e) => e._id === rec.phaseEventId);
  return named ?? events.filter((e) => e.type === type).at(-1) ?? events.at(-1);
}

/** Whether a running workflow's state shows the event: applied or being applied, queued, or ignored. */
export function knowsEvent(view: InstallationView, eventId: string): boolean {
  return (
    view.history.some((h) => h.eventId === eventId) ||
    view.pendingEvents.some((p) => p.endsWith(` ${eventId}`)) ||
    view.ignoredEvents.some((i) => i.eventId === eventId)
  );
}

/** A start refused because the workflow runs already (an event's hand-over started it): not a failure here. */
function unlessAlreadyStarted(err: unknown): void {
  if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
}

/** How long the pass waits for a running workflow's state (a replay of its history when it is not cached). */
const QUERY_DEADLINE_MS = 5_000;

/** Distinct events in the order the workflow applies them (`created_at`, then the lifecycle's order in a second). */
function inQueueOrder(events: (InboxRecord | undefined)[]): InboxRecord[] {
  const distinct = [...new Map(events.filter((e): e is InboxRecord => e !== undefined).map((e) => [e._id, e])).values()];
  const key = (e: InboxRecord) => [Date.parse(e.event.createdAt), TYPE_ORDER[e.type]] as const;
  return distinct.sort((a, b) => {
    const [at, ar] = key(a);
    const [bt, br] = key(b);
    return at - bt || ar - br;
  });
}

/**
 * Whether the record's handled ids still name every event applied since `loaded` (the first lost run's): the record
 * keeps the last MAX_HANDLED only, so a later run that applied more dropped the oldest, and an event it applied would
 * then look unhandled by `loaded`'s judgement, handed to the new run again. Judged by the record then: what the first
 * lost run had queued older than the record's last event is no longer told apart (left, as before the mark kept it).
 */
function handledReachBack(rec: InstallationRecord, loaded: ResumedFrom): boolean {
  const now = rec.handledEventIds ?? [];
  const last = loaded.handledEventIds?.at(-1);
  return now.length < MAX_HANDLED || (last !== undefined && now.includes(last));
}

/** Resuming lost installation workflows (reconciliation.ts): from the store's record and inbox. */
export function createResumer(deps: { store: Store; dispatch: () => Dispatch; temporal: () => InstallationTarget }) {
  const { store, dispatch, temporal } = deps;
  /**
   * Starts the workflow again from the stored state, handing over the event of an unfinished phase (the
   * newest of that phase's type: a later trial or rotation event would start a run that never resumes the
   * phase, the record names no event id), or from the record alone when there is none or it was handled
   * (a run that failed after ending the phase: handing it over again would start nothing). Then the events
   * the lost run had queued and not applied (`unhandledEvents`): nothing else would hand them over again.
   */
  async function resume(rec: InstallationRecord): Promise<void> {
    const handOver = dispatch();
    const events = await store.inbox.listForInstallation(rec._id);
    const own = phaseEvent(rec, events);
    const ownUnhandled = own && !rec.handledEventIds?.includes(own._id) ? own : undefined;
    // A run resumed earlier (marked, `resumed_runs`) and lost too: judged by what the first lost run had applied, as
    // `handOverLostEvents` does, or the clear below would drop the only trace of what that run had queued.
    const marked = await store.installations.resumedFrom(rec._id);
    const loaded = marked && handledReachBack(rec, marked) ? marked : undefined;
    const queued = unhandledEvents(loaded ? { ...rec, ...loaded } : rec, events).filter((e) => !rec.handledEventIds?.includes(e._id));
    // Its run marks nothing (resumedByReconciliation). Marked before it starts when the lost run left events: a
    // pass cut off once the start landed (its answer lost, the worker killed) and before they were all handed over
    // finds the run running, and looks for what it does not know only through this mark.
    const markedAt = queued.some((e) => e._id !== ownUnhandled?._id) ? new Date() : undefined;
    if (markedAt) await store.installations.markResumedRun(rec._id, markedAt, marked ?? rec);
    // Started meanwhile by an event's hand-over (signal-with-start): the run restores the record and does not
    // know the events the lost run had queued; they are handed over all the same.
    if (!ownUnhandled) await resumeInstallation(temporal(), rec._id, rec.accountName).catch(unlessAlreadyStarted);
    // In the workflow's order: the first starts the run, which must not begin a newer event (a reinstall) before the older ones arrive.
    try {
      for (const e of inQueueOrder([ownUnhandled, ...queued])) await handOver(e.event);
    } catch (err) {
      // Marked (anew), so the next pass looks for what was not handed over.
      await store.installations.markResumedRun(rec._id, new Date(), marked ?? rec);
      throw err;
    }
    if (markedAt) await store.installations.clearResumedRun(rec._id, markedAt);
  }

  /**
   * A running workflow that does not know events a lost run left: the event of the phase its record shows under
   * way (its new run, started by a later event, restores the phase before it and expects that event again, which
   * only `resume` hands over), and the events the lost run had queued (`unhandledEvents`). Those it does not know
   * are handed over (a repeat of one it is about to get is ignored by the workflow). Looked for in a record in
   * progress whose phase's event is not handled, or in any live record with `anyPhase` (a run resumed from it,
   * `resumed_runs`: an uninstall queued behind a rotation while the record said `active`), never in every
   * active record: the inbox listing reads the whole collection on the embedded store. Undefined: the workflow's
   * state could not be read (asked again next pass).
   */
  async function handOverLostEvents(rec: InstallationRecord, anyPhase = false, loaded?: ResumedFrom): Promise<boolean | undefined> {
    const inProgress = IN_PROGRESS_PHASES.includes(rec.phase);
    if (!inProgress && !anyPhase) return false;
    const named = rec.phaseEventId;
    if (!anyPhase && named !== undefined && rec.handledEventIds?.includes(named)) return false;
    // Not answered within QUERY_DEADLINE_MS (no worker polling, a workflow task stuck): the pass goes on as before,
    // and asks again next time.
    let asked: Promise<InstallationView | undefined> | undefined;
    const workflowState = () => (asked ??= queryState(rec._id));
    // A phase under way whose event the workflow knows (the usual case: its run was never lost) needs no inbox listing,
    // which reads the whole collection on the embedded store: the workflow is asked first. What a lost run had queued
    // behind it was handed over with it, or is marked for the next pass (below).
    if (!anyPhase && named !== undefined) {
      const view = await workflowState();
      if (!view) return undefined;
      if (knowsEvent(view, named)) return false;
    }
    const events = await store.inbox.listForInstallation(rec._id);
    const own = inProgress ? phaseEvent(rec, events) : undefined;
    const ownLost = own && !rec.handledEventIds?.includes(own._id) ? own : undefined;
    if (!ownLost && !anyPhase) return false;
    // Judged by what the lost run had applied (the record its successor loaded), not by the record now: the new run
    // may have applied a newer event since, which would make the lost run's older queued ones look superseded.
    const queued = unhandledEvents(loaded ? { ...rec, ...loaded } : rec, events).filter((e) => !rec.handledEventIds?.includes(e._id));
    const candidates = inQueueOrder([ownLost, ...queued]);
    if (candidates.length === 0) return false;
    const view = await workflowState();
    if (!view) return undefined;
    const lost = candidates.filter((e) => !knowsEvent(view, e._id));
    if (lost.length === 0) return false;
    const handOver = dispatch();
    try {
      for (const e of lost) await handOver(e.event);
    } catch (err) {
      // Part-way: the workflow may now know the phase's event, and the next pass would not list the rest; the mark makes it.
      await store.installations.markResumedRun(rec._id, new Date(), loaded ?? rec);
      throw err;
    }
    return true;
  }

  /** The running workflow's state, or undefined when it did not answer in time. */
  async function queryState(installationId: string): Promise<InstallationView | undefined> {
    const { client } = temporal();
    return client.connection
      .withDeadline(Date.now() + QUERY_DEADLINE_MS, () => client.workflow.getHandle(workflowIdFor(installationId)).query(stateQuery))
      .catch(() => undefined);
  }

  /**
   * A run started from the live record at `at` (`resumed_runs`): what the lost run had queued is handed over to
   * the running workflow if it does not know it; the mark goes once that is known. Not running: its visit resumes
   * it (the new run marks it again). Ended: nothing to check.
   */
  async function checkResumedRun(installationId: string, at: Date): Promise<'resumed' | undefined> {
    const rec = await store.installations.get(installationId);
    const live = rec !== null && needsWorkflow(rec.phase);
    if (live && !(await workflowRunning(temporal(), installationId))) return undefined;
    const marked = live ? await store.installations.resumedFrom(installationId) : undefined;
    // As `resume` judges it: a run that applied more than the record keeps ids of since leaves the mark's snapshot
    // blind to what it applied, which would look unhandled; then judged by the record.
    const loaded = marked && rec && handledReachBack(rec, marked) ? marked : undefined;
    const handed = live ? await handOverLostEvents(rec, true, loaded) : false;
    // Unanswered: marked anew, so that it goes behind the others (a pass looks at the oldest marks only).
    if (handed === undefined)
      return void (await store.installations.markResumedRun(installationId, new Date(), marked ?? rec ?? undefined));
    await store.installations.clearResumedRun(installationId, at);
    return handed ? 'resumed' : undefined;
  }

  return { resume, handOverLostEvents, checkResumedRun };
}
