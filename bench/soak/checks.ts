import { readFileSync } from 'node:fs';
import type { CallRecord } from '../../src/simulator';
import type { InboxRecord } from '../../src/handover/inbox';
import { stateQuery, workflowIdFor, type InstallationView } from '../../workflows/definitions';
import type { BenchSystem } from '../system';
import type { SoakInstallation } from './plan';
import { textOf } from '../../test/support/secret-scan';
import { APPROVED, checkPhaseApprovals } from './approvals';
import { earlierViews, mapLimit, mergeRuns, retry, runsOf } from './runs';
import { SecretScanner } from './secrets';
import { emptyCheckStats, type CheckProgress, type CheckStats } from './check-stats';
import { completesWithin, describeUnfinished } from './unfinished';
import { withTimeout } from '../../src/store/watchdog';

export { mergeRuns } from './runs';
export type { CheckProgress, CheckStats } from './check-stats';

/** What the checks read: Temporal, the service's database, the simulator's records, the logs. */
export type CheckedSystem = Pick<BenchSystem, 'client' | 'store' | 'simulator' | 'logFiles'>;

/**
 * The soak's end checks: final phases, accounts, approvals, events, secrets. Every
 * violation is a line in the returned list.
 */
export async function checkSoak(
  sys: CheckedSystem,
  installations: SoakInstallation[],
  workerKillTimes: readonly number[] = [],
  options: { unfinishedQueryTimeoutMs?: number; completionWaitMs?: number; completeBy?: number; progress?: CheckProgress } = {},
): Promise<{ violations: string[]; stats: CheckStats; stuck: string[] }> {
  const progress = options.progress ?? { step: '', reading: new Set<string>() };
  const unfinishedQueryTimeoutMs = options.unfinishedQueryTimeoutMs ?? 15_000;
  // Past the server's longest workflow-task retry backoff (10 minutes).
  const completionWaitMs = options.completionWaitMs ?? 11 * 60_000;
  /** Finished by the drive (the record says uninstalled) whose workflow never completed: histories worth saving. */
  const stuck: string[] = [];
  const v: string[] = [];
  const stats = emptyCheckStats(installations.length);
  progress.stats = stats;
  progress.violations = v;
  progress.stuck = stuck;

  // An installation the soak could not drive to its end (deadline) is one violation; the
  // checks of its final state are skipped, those of what it did (approvals, secrets) are not.
  const finished = installations.filter((i) => i.finished);

  // 1. Every installation in its correct final phase.
  progress.step = '1, final phases';
  const views = new Map<string, InstallationView>();
  const whyNoState = new Map<string, string>();
  await mapLimit(installations, 8, async (inst) => {
    progress.reading.add(inst.installationId);
    try {
      await finalView(inst);
    } finally {
      progress.reading.delete(inst.installationId);
    }
  });
  async function finalView(inst: SoakInstallation): Promise<void> {
    const handle = sys.client.workflow.getHandle(workflowIdFor(inst.installationId));
    if (!inst.finished) {
      try {
        // Bounded: a query no worker answers waits for the server's own timeout otherwise.
        const query = () => sys.client.withDeadline(Date.now() + unfinishedQueryTimeoutMs, () => handle.query(stateQuery));
        views.set(inst.installationId, await retry(query, 2));
      } catch (err) {
        whyNoState.set(inst.installationId, await describeUnfinished(sys.client, inst.installationId, err));
      }
      return;
    }
    try {
      let view: InstallationView;
      if (inst.expectedPhase === 'uninstalled') {
        let desc = await retry(() => handle.describe());
        // Each waits at most completionWaitMs, all of them together no later than completeBy (a time, not a duration).
        const waitMs = Math.max(0, Math.min(completionWaitMs, (options.completeBy ?? Infinity) - Date.now()));
        if (desc.status.name === 'RUNNING' && (await completesWithin(sys.client, inst.installationId, waitMs))) {
          desc = await retry(() => handle.describe());
          stats.lateCompletions += 1;
        }
        if (desc.status.name !== 'COMPLETED') {
          stuck.push(inst.installationId);
          const where = await describeUnfinished(sys.client, inst.installationId);
          v.push(`${inst.installationId}: workflow ${desc.status.name}, expected COMPLETED (uninstalled): ${where}`);
          view = await retry(() => handle.query(stateQuery));
        } else {
          view = (await retry(() => handle.result())) as InstallationView;
        }
      } else {
        view = await retry(() => handle.query(stateQuery));
      }
      views.set(inst.installationId, view);
      const settled = view.pendingEvents.length === 0 && !view.currentStep;
      if (view.phase === inst.expectedPhase && settled) stats.inFinalPhase += 1;
      else
        v.push(
          `${inst.installationId} (${inst.plan}): phase ${view.phase}${settled ? '' : ` (pending ${view.pendingEvents.length}, step ${view.currentStep})`}, expected ${inst.expectedPhase}`,
        );
    } catch (err) {
      v.push(`${inst.installationId}: no final view: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // Where each unfinished installation stood: its workflow, and the hand-over of each of its events.
  progress.step = '1, where unfinished installations stood';
  const unfinished = installations.filter((i) => !i.finished);
  const dispatchOf = new Map<string, InboxRecord & { queue?: Awaited<ReturnType<typeof sys.store.inbox.queued>> }>();
  // The first read that fails ends the reads: one by one, a store that does not answer would take the checks' whole reserve.
  let inboxUnread: string | undefined;
  const read = new Set<string>();
  for (const e of unfinished.flatMap((i) => i.events)) {
    try {
      const record = await retry(() => withTimeout(sys.store.inbox.get(e.id), 10_000), 2);
      read.add(e.id);
      const queue = await retry(() => withTimeout(sys.store.inbox.queued(e.id), 10_000), 2).catch(() => null);
      if (record) dispatchOf.set(e.id, { ...record, queue });
    } catch (err) {
      inboxUnread = `inbox not read: ${err instanceof Error ? err.name : 'Error'}`;
      break;
    }
  }
  for (const inst of unfinished) {
    const view = views.get(inst.installationId);
    const workflow = view
      ? `workflow ${view.phase}${view.currentStep ? `, step "${view.currentStep}" (attempt ${view.attempts})` : ''}${view.lastError ? `, last error "${view.lastError}"` : ''}, ${view.pendingEvents.length} queued`
      : `no workflow state (${whyNoState.get(inst.installationId) ?? 'query failed'})`;
    const events = inst.events.map((e) => {
      const d = dispatchOf.get(e.id);
      const state = !e.accepted
        ? 'not accepted'
        : !d
          ? inboxUnread && !read.has(e.id)
            ? inboxUnread
            : 'not in the inbox'
          : d.dispatchedAt
            ? 'handed over'
            : `not handed over (${d.queue?.dispatchAttempts ?? 0} attempts, next ${d.queue?.nextDispatchAt.toISOString().slice(11, 19) ?? '?'}${d.queue?.lastDispatchError ? `, ${d.queue.lastDispatchError.slice(0, 80)}` : ''})`;
      return `${e.type} ${state}`;
    });
    v.push(
      `${inst.installationId} (${inst.plan}): not finished: ${inst.stoppedAt ?? 'unknown'}; ${workflow}; ${events.join(', ') || 'no event'}`,
    );
  }

  // An event handed over after its workflow completed (a delivery the faults delayed) starts a
  // new run, which records it and completes: what each installation did is in all its runs.
  progress.step = '1, earlier runs';
  const runsById = await runsOf(sys, installations);
  const evidence = new Map<string, InstallationView>();
  for (const [id, view] of views) {
    const runs = [...(await earlierViews(sys, id, runsById.get(id) ?? [])), view];
    stats.earlierRuns += runs.length - 1;
    const merged = mergeRuns(runs);
    evidence.set(id, merged.view);
    v.push(...merged.violations);
  }

  // 2. Exactly one account per installation.
  progress.step = '2, accounts';
  const accounts = await retry(() => sys.store.accounts.accounts.find({}, { projection: { installationId: 1 } }).toArray());
  stats.accounts = accounts.length;
  const accountsOf = new Map<string, number>();
  for (const a of accounts) accountsOf.set(a.installationId, (accountsOf.get(a.installationId) ?? 0) + 1);
  const known = new Set(installations.map((i) => i.installationId));
  for (const inst of finished) {
    const n = accountsOf.get(inst.installationId) ?? 0;
    if (n !== 1) v.push(`${inst.installationId}: ${n} accounts, expected exactly 1`);
  }
  for (const [id, n] of accountsOf) if (!known.has(id)) v.push(`${n} account(s) of an installation the soak never made: ${id}`);

  progress.step = '3, approvals';
  // 3. Exactly one approval that took effect at Talkdesk per approved phase (one answered late counts: it took effect), no rejection.
  const stateCalls = new Map<string, CallRecord[]>();
  for (const c of sys.simulator.calls) {
    if (c.route !== 'installationState' || !c.installationId) continue;
    const list = stateCalls.get(c.installationId) ?? [];
    list.push(c);
    stateCalls.set(c.installationId, list);
  }
  for (const inst of installations) {
    const view = evidence.get(inst.installationId);
    if (!view) continue;
    const calls = stateCalls.get(inst.installationId) ?? [];
    for (const c of calls) {
      if ((c.body as { state?: string } | undefined)?.state === 'reject')
        v.push(`${inst.installationId}: rejected at Talkdesk (${c.status})`);
    }
    for (const c of calls) {
      if (c.status === 409) {
        stats.conflictingStateCalls += 1;
        v.push(`${inst.installationId}: a state call at ${c.at.toISOString()} answered 409 (nothing open at Talkdesk: a stray call)`);
      }
      // Only the update or uninstall phase may conclude its pending operation (and, on a line of its own, the
      // phase before it when Talkdesk opened the operation before its event was delivered: concludedAnotherOperation).
      const t = c.at.getTime();
      const inPhase = view.history.some(
        (p) => p.phase in APPROVED && Date.parse(p.startedAt) <= t && t <= (p.endedAt ? Date.parse(p.endedAt) : Infinity),
      );
      if (c.status === 200 && (c.concluded === 'update' || c.concluded === 'uninstall') && !inPhase) {
        stats.pendingConcludedOutsidePhases += 1;
        v.push(
          `${inst.installationId}: a state call at ${c.at.toISOString()} concluded a pending ${c.concluded} outside any phase (reconciliation?)`,
        );
      }
    }
    checkPhaseApprovals(inst.installationId, view, calls, workerKillTimes, stats, v);
  }

  progress.step = '4, events';
  // 4. Zero events lost: every event accepted, stored, handed over, and applied or recorded as ignored.
  const inbox = await retry(() =>
    sys.store.db.db
      .collection<{ _id: string; installationId: string; dispatchedAt?: Date }>('inbox')
      .find({}, { projection: { _id: 1, installationId: 1, dispatchedAt: 1 } })
      .toArray(),
  );
  const stored = new Map(inbox.map((r) => [r._id, r]));
  const lost: { inst: SoakInstallation; event: SoakInstallation['events'][number]; ignoredAs?: string }[] = [];
  for (const inst of finished) {
    const view = evidence.get(inst.installationId);
    const applied = new Set(view?.history.map((h) => h.eventId).filter(Boolean));
    // An event may be recorded more than once (superseded, then a duplicate delivery of it).
    const ignored = new Map<string, string[]>();
    for (const e of view?.ignoredEvents ?? []) ignored.set(e.eventId, [...(ignored.get(e.eventId) ?? []), e.reason]);
    for (const e of inst.events) {
      stats.events += 1;
      if (!e.accepted) {
        v.push(`${inst.installationId}: ${e.type} ${e.id} never accepted by the callback`);
        continue;
      }
      const record = stored.get(e.id);
      if (!record) v.push(`${inst.installationId}: ${e.type} ${e.id} accepted but not in the inbox`);
      else if (!record.dispatchedAt) v.push(`${inst.installationId}: ${e.type} ${e.id} stored but never handed to its workflow`);
      if (!view) continue;
      if (applied.has(e.id)) stats.eventsApplied += 1;
      else if ((ignored.get(e.id) ?? []).some((reason) => reason !== 'duplicate delivery')) stats.eventsRecordedIgnored += 1;
      else lost.push({ inst, event: e, ignoredAs: ignored.get(e.id)?.join('; ') });
    }
  }

  for (const { inst, event, ignoredAs } of lost) {
    // What the runs of this installation's workflow saw, to say where the event went.
    const runs = (runsById.get(inst.installationId) ?? []).map(
      (r) => `${r.runId.slice(0, 8)} ${r.status} ${new Date(r.start).toISOString()}`,
    );
    v.push(
      `${inst.installationId} (${inst.plan}): ${event.type} ${event.id} neither applied nor recorded as superseded (lost)` +
        `${ignoredAs ? `; only recorded as "${ignoredAs}"` : ''}; workflow runs: ${runs.join(' | ') || 'unknown'}`,
    );
  }

  // 5. Zero secrets in histories or logs.
  progress.step = '5, secrets';
  const secrets = sys.simulator.issuedSecrets();
  stats.secretsLookedFor = secrets.length;
  const scanner = new SecretScanner(secrets);
  // Every run's history: a run that continued as new, or completed before a later one, holds its own.
  const histories = installations.flatMap((inst) => (runsById.get(inst.installationId) ?? []).map((run) => ({ inst, runId: run.runId })));
  await mapLimit(histories, 8, async ({ inst, runId }) => {
    try {
      const history = await retry(() => sys.client.workflow.getHandle(workflowIdFor(inst.installationId), runId).fetchHistory());
      stats.historiesScanned += 1;
      // Bytes as UTF-8 only: the scanner looks for each secret's base64 forms itself, and
      // base64 of public JSON (token URLs) can equal a window of a JWT's base64.
      const found = scanner.scan(textOf(history, { bytesAsBase64: false }));
      if (found.size > 0) v.push(`${inst.installationId}: ${found.size} secret(s) in the history of run ${runId}`);
    } catch (err) {
      v.push(`${inst.installationId}: history of run ${runId} not fetched: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  for (const inst of installations)
    if (!runsById.get(inst.installationId)?.length) v.push(`${inst.installationId}: no workflow run listed`);
  for (const file of sys.logFiles()) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    stats.logFilesScanned += 1;
    stats.logBytesScanned += text.length;
    const found = scanner.scan(text);
    if (found.size > 0) v.push(`${found.size} secret(s) in the log ${file.split('/').pop()}`);
  }
  return { violations: v, stats, stuck };
}
