import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkSoak, mergeRuns } from '../../bench/soak/checks';
import { saveHistories } from '../../bench/soak/unfinished';
import type { SoakInstallation } from '../../bench/soak/plan';
import type { InstallationView } from '../../workflows/definitions';
import { workflowIdFor } from '../../workflows/definitions';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, finalView, waitForPhase } from '../support/waits';
import { api, getToken } from '../simulator/helpers';
import { startInstallation } from '../../src/handover/start';
import { parseEvent, toLifecycleEvent } from '../../src/events/schemas';

/** A simulator event as the callback reads it. */
function parsed(event: unknown) {
  const result = parseEvent(JSON.parse(JSON.stringify(event)));
  if (!result.ok) throw new Error(`the simulator's event does not parse: ${result.error.message}`);
  return result.event;
}

const view = (
  runId: string,
  history: InstallationView['history'],
  ignoredEvents: InstallationView['ignoredEvents'] = [],
): InstallationView => ({
  installationId: 'i-1',
  workflowId: `${workflowIdFor('i-1')} (${runId})`,
  phase: 'uninstalled',
  history,
  ignoredEvents,
  attempts: 0,
  pendingEvents: [],
  appliedEvents: history.length,
  retiringCredentials: [],
  operatorActions: [],
});
const at = '2026-11-21T00:00:00.000Z';

/** A soak installation whose only delivered event is its (accepted) install. */
function installedOnly(
  installationId: string,
  install: { id: string; type: 'app.installed'; created_at: string; data: { account_id: string } },
  rest: Pick<SoakInstallation, 'plan' | 'expectedPhase' | 'finished' | 'stoppedAt'>,
): SoakInstallation {
  return {
    index: 2,
    installationId,
    accountId: install.data.account_id,
    events: [{ id: install.id, type: install.type, createdAt: install.created_at, accepted: true }],
    lastAt: Date.parse(install.created_at),
    ...rest,
  };
}

describe('soak checks: mergeRuns', () => {
  it('joins the phases and ignored events of every run, oldest first, and keeps the last state', () => {
    const first = view('a', [
      { phase: 'installing', eventId: 'e-install', startedAt: at, endedAt: at, outcome: 'approved', result: 'approved' },
      { phase: 'uninstalling', eventId: 'e-uninstall', startedAt: at, endedAt: at, outcome: 'acknowledged', result: 'acknowledged' },
    ]);
    const second = { ...view('b', [], [{ eventId: 'e-update', reason: 'superseded by a newer event' }]), appliedEvents: 0 };
    const { view: merged, violations } = mergeRuns([first, second]);
    assert.deepEqual(violations, []);
    assert.deepEqual(
      merged.history.map((h) => h.eventId),
      ['e-install', 'e-uninstall'],
    );
    assert.deepEqual(merged.ignoredEvents, second.ignoredEvents);
    assert.equal(merged.workflowId, second.workflowId);
  });

  it('names an event that a later run applied again', () => {
    const uninstall = {
      phase: 'uninstalling' as const,
      eventId: 'e-uninstall',
      startedAt: at,
      endedAt: at,
      outcome: 'acknowledged',
      result: 'acknowledged' as const,
    };
    const { violations } = mergeRuns([view('a', [uninstall]), view('b', [uninstall])]);
    assert.deepEqual(violations, ['i-1: event e-uninstall applied by 2 workflow runs']);
  });
});

/**
 * What failed a CI run: the soak's update, handed over only after the uninstall had
 * completed the workflow (a delivery the faults delayed), started a run of its own that
 * recorded it as superseded. The checks read every run, not only the latest.
 */
describe('soak checks on an event handed over after its workflow completed (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  const deliver = async (event: { id: string }) =>
    assert.equal(await sys.simulator.deliver(event as never, { callbackUrl: sys.web.callbackUrl }), 200);

  it('the late, older event is recorded by a run of its own that applies nothing, and the checks find nothing lost', async () => {
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const { installation, event: install } = sys.simulator.createInstallation({ licensedUsers: 1 }, { createdAt: new Date(t0) });
    await deliver(install);
    await waitForPhase(sys.client, installation.id, 'active');
    const update = sys.simulator.updateUsers(installation.id, { add: 1 }, { createdAt: new Date(t0 + 1_000) });
    const uninstall = sys.simulator.uninstall(installation.id, undefined, { createdAt: new Date(t0 + 2_000) });
    await deliver(uninstall);
    assert.equal((await finalView(sys.client, installation.id)).phase, 'uninstalled');
    const handle = sys.client.workflow.getHandle(workflowIdFor(installation.id));
    const firstRun = (await handle.describe()).runId;

    await deliver(update);
    const late = await eventually('a run of its own for the late update', async () => {
      const d = await handle.describe();
      return d.runId !== firstRun && d.status.name === 'COMPLETED' ? ((await handle.result()) as InstallationView) : undefined;
    });
    assert.equal(late.phase, 'uninstalled');
    // Its search attributes name the account like the first run's: operators find it by TalkdeskAccountId.
    const attrs = (await handle.describe()).searchAttributes as Record<string, unknown[] | undefined>;
    assert.deepEqual(attrs.TalkdeskAccountId, [installation.accountId], JSON.stringify(attrs));
    assert.deepEqual(attrs.TalkdeskAccountName, [installation.accountName]);
    assert.deepEqual(attrs.InstallationPhase, ['uninstalled']);
    assert.equal(late.appliedEvents, 0);
    assert.deepEqual(late.history, []);
    assert.deepEqual(
      late.ignoredEvents.map((e) => e.eventId),
      [update.id],
    );
    // Late events are judged by kind (late-events-by-kind): an update for an uninstalled installation is ignored as such.
    assert.match(late.ignoredEvents[0]!.reason, /update ignored: installation is uninstalled/);
    assert.deepEqual(
      sys.simulator.stateCalls(installation.id).map((c) => c.body),
      [{ state: 'approve' }, { state: 'approve' }],
      'install approved and uninstall acknowledged, once each: the late update sent nothing',
    );

    // Both runs must be in the visibility store before the checks list them.
    await eventually('both runs listed', async () => {
      let n = 0;
      for await (const _ of sys.client.workflow.list({ query: `WorkflowId = '${workflowIdFor(installation.id)}'` })) n += 1;
      return n === 2 ? n : undefined;
    });
    const soakInstallation: SoakInstallation = {
      index: 0,
      plan: 'install, then update and uninstall at once',
      installationId: installation.id,
      accountId: install.data.account_id,
      events: [install, update, uninstall].map((e) => ({ id: e.id, type: e.type, createdAt: e.created_at, accepted: true })),
      expectedPhase: 'uninstalled',
      finished: true,
      lastAt: t0 + 2_000,
    };
    const { violations, stats } = await checkSoak({ ...sys, logFiles: () => [] }, [soakInstallation]);
    assert.deepEqual(violations, []);
    assert.equal(stats.earlierRuns, 1);
    assert.equal(stats.inFinalPhase, 1);
    assert.equal(stats.eventsApplied, 2);
    assert.equal(stats.eventsRecordedIgnored, 1);
    assert.equal(stats.approvalPhases, 2);
    assert.equal(stats.historiesScanned, 2, 'the histories of both runs are scanned for secrets');
  });

  it('counts a pending operation concluded outside its phase and a call answered 409 as violations', async () => {
    const { installation, event: install } = sys.simulator.createInstallation({ licensedUsers: 1 });
    await deliver(install);
    await waitForPhase(sys.client, installation.id, 'active');
    // Talkdesk opens an update whose event is not delivered yet; a stray approval (what reconciliation
    // used to send for `pending`) concludes it, and a repeat of it finds nothing open.
    sys.simulator.updateUsers(installation.id, { add: 1 });
    const token = await getToken(sys.simulator, install.data);
    const statePath = `/apps/${sys.simulator.appId}/installations/${installation.id}/state`;
    assert.equal((await api(sys.simulator, token, 'POST', statePath, '{"state":"approve"}')).status, 200);
    assert.equal((await api(sys.simulator, token, 'POST', statePath, '{"state":"approve"}')).status, 409);
    const soakInstallation = installedOnly(installation.id, install, { plan: 'install, update', expectedPhase: 'active', finished: true });
    const { violations, stats } = await checkSoak({ ...sys, logFiles: () => [] }, [soakInstallation]);
    assert.equal(stats.pendingConcludedOutsidePhases, 1);
    assert.equal(stats.conflictingStateCalls, 1);
    const mine = violations.filter((x) => x.startsWith(`${installation.id}: a state call`));
    assert.equal(mine.length, 2, violations.join('\n'));
    assert.match(mine.join('\n'), /concluded a pending update outside any phase/);
    assert.match(mine.join('\n'), /answered 409/);
  });

  it('says where an installation the soak could not finish stood: its workflow and each event', async () => {
    const { installation, event: install } = sys.simulator.createInstallation({ licensedUsers: 1 });
    await deliver(install);
    await waitForPhase(sys.client, installation.id, 'active');
    const update = sys.simulator.updateUsers(installation.id, { add: 1 });
    const unfinished: SoakInstallation = {
      index: 1,
      plan: 'install, update',
      installationId: installation.id,
      accountId: install.data.account_id,
      events: [
        { id: install.id, type: install.type, createdAt: install.created_at, accepted: true },
        { id: update.id, type: update.type, createdAt: update.created_at, accepted: false },
      ],
      expectedPhase: 'active',
      finished: false,
      stoppedAt: 'app.updated not accepted before the deadline',
      lastAt: Date.parse(update.created_at),
    };
    const { violations } = await checkSoak({ ...sys, logFiles: () => [] }, [unfinished]);
    // (The account of the previous test's installation, not listed here, is a violation of its own.)
    assert.deepEqual(
      violations.filter((x) => x.includes(installation.id)),
      [
        `${installation.id} (install, update): not finished: app.updated not accepted before the deadline; ` +
          'workflow active, 0 queued; app.installed handed over, app.updated not accepted',
      ],
    );
  });

  it('says why an unfinished installation has no state: the failed query and what Temporal holds of its workflow', async () => {
    const { installation, event: install } = sys.simulator.createInstallation({ licensedUsers: 1 });
    // Its workflow waits on a task queue no worker polls: its first workflow task never completes, so no query answers.
    await startInstallation(
      { client: sys.client, taskQueue: `soak-check-unpolled-${installation.id.slice(0, 8)}` },
      toLifecycleEvent(parsed(install)),
      10_000,
    );
    const handle = sys.client.workflow.getHandle(workflowIdFor(installation.id));
    try {
      const unfinished = installedOnly(installation.id, install, {
        plan: 'install, uninstall',
        expectedPhase: 'uninstalled',
        finished: false,
        stoppedAt: 'active after install not reached before the deadline',
      });
      const { violations } = await checkSoak({ ...sys, logFiles: () => [] }, [unfinished], [], { unfinishedQueryTimeoutMs: 2_000 });
      const mine = violations.filter((x) => x.includes(installation.id));
      assert.equal(mine.length, 1, violations.join('\n'));
      assert.match(
        mine[0]!,
        /: not finished: active after install not reached before the deadline; no workflow state \(query failed: [^;]+; RUNNING, [1-9]\d* events; workflow task SCHEDULED attempt 1\); app\.installed not in the inbox$/,
      );
      // The post-mortem copy of its history: what `npm run soak` leaves for each unfinished installation.
      const dir = mkdtempSync(path.join(os.tmpdir(), 'soak-histories-'));
      try {
        assert.equal(await saveHistories(sys.client, [installation.id], dir), 1);
        const saved = JSON.parse(readFileSync(path.join(dir, `${workflowIdFor(installation.id)}.json`), 'utf8')) as {
          events: { eventType: string }[];
        };
        assert.equal(saved.events[0]?.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await handle.terminate('test: done');
    }
  });
});
