import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { eventually } from '../support/waits';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../src/worker/create-worker';
import { prebuiltWorkflowBundle } from '../../src/worker/workflow-bundle';
import { reconcileWorkflow, type ReconcileInput } from '../../workflows/reconcile';
import { emptyPage, type PageResult, type PlannedPass } from '../../workflows/reconcile-types';
import { temporalDevEnvWithConfig, type TemporalUiEnv } from '../support/servers';

type History = temporal.api.history.v1.IHistory;

/** The server suggests continue-as-new from this many history events: a run holds a few batches of pages. */
const SUGGEST_AT = 30;
const PAGES = 9;

/**
 * A planned reconciliation pass longer than one run (workflows/reconcile.ts, `plannedPass`): on
 * a dev server of its own that suggests continue-as-new after SUGGEST_AT events, with the pass's
 * activities stubbed (a plan of PAGES pages), every page is reconciled once across the runs,
 * and the report the last run returns sums them all.
 */
describe('reconciliation: a planned pass that continues as new', function () {
  this.timeout(180_000);
  let server: TemporalUiEnv | undefined;

  before(async function () {
    this.timeout(120_000);
    server = await temporalDevEnvWithConfig({ 'limit.historyCount.suggestContinueAsNew': SUGGEST_AT });
  });
  after(async () => {
    await server?.teardown();
  });

  /** Runs one pass of `pages` pages on a worker of its own, the pass's activities stubbed. */
  async function runPass(
    env: TemporalUiEnv['env'],
    input: ReconcileInput,
    pages: number,
    failing?: number,
    /** Pages 0 and 1 wait until their activities are cancelled, and this runs meanwhile. */
    whilePageRuns?: (handle: WorkflowHandle, calls: { pages: { page: number }[]; pageCancelled: boolean }) => Promise<void>,
  ) {
    const calls = {
      plans: [] as string[],
      pages: [] as { planId: string; page: number; runId: string }[],
      housekeeping: 0,
      pageCancelled: false,
    };
    const activities = {
      dispatchStoredEvents: async () => {
        calls.housekeeping += 1;
        return { dispatched: 3, errors: [] };
      },
      destroyRetiredCredentials: async () => ({ destroyed: 2 }),
      planReconciliation: async (i: { planId: string }): Promise<PlannedPass> => {
        calls.plans.push(i.planId);
        return { id: i.planId, pages, startedAt: Date.now(), talkdeskPlanned: 5, talkdeskDeferred: 4 };
      },
      reconcilePlannedPage: async (i: { planId: string; page: number }): Promise<PageResult> => {
        calls.pages.push({ ...i, runId: Context.current().info.workflowExecution?.runId ?? '' });
        if (i.page === failing) throw ApplicationFailure.create({ message: 'the plan page could not be read', nonRetryable: true });
        if (whilePageRuns && i.page < 2) {
          try {
            for (;;) {
              Context.current().heartbeat();
              await Context.current().sleep(100); // throws once the activity is cancelled
            }
          } catch (err) {
            calls.pageCancelled = err instanceof CancelledFailure;
            throw err;
          }
        }
        return {
          ...emptyPage(),
          scanned: i.page + 1,
          resumed: [`inst-${i.page}`],
          talkdeskChecked: 1,
          errors: i.page === 4 ? [{ installationId: 'inst-4', message: 'page 4 found an error' }] : [],
        };
      },
    };
    const prebuilt = prebuiltWorkflowBundle();
    const silent = {
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
      log: () => undefined,
    };
    const workflowBundle =
      'bundle' in prebuilt ? prebuilt.bundle : await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: silent });
    const taskQueue = `reconcile-can-${randomBytes(4).toString('hex')}`;
    const worker = await Worker.create({ connection: env.nativeConnection, namespace: 'default', taskQueue, workflowBundle, activities });
    const workflowId = `reconcile-can-${randomBytes(4).toString('hex')}`;
    const report = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(reconcileWorkflow, { taskQueue, workflowId, args: [input] });
      await whilePageRuns?.(handle, calls);
      return handle.result();
    });
    return { report, calls, workflowId };
  }

  it('reconciles every page exactly once across the runs, with one plan, and the report sums them', async () => {
    const env = server!.env;
    const { report, calls, workflowId } = await runPass(env, { pageSize: 2, parallelism: 2 }, PAGES);

    // The runs, first to last, and where each began.
    const runs: History[] = [];
    const first = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes
      ?.firstExecutionRunId;
    for (let runId: string | null | undefined = first; runId;) {
      const h = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      runs.push(h);
      runId = h.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    }
    const inputs = runs.map((h) =>
      defaultPayloadConverter.fromPayload<ReconcileInput>(h.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!),
    );
    assert.ok(runs.length >= 2, `the pass continued as new (${runs.length} run)`);
    assert.equal(inputs[0]?.plan, undefined, 'the first run plans the pass');
    const carried = inputs.slice(1).map((i) => i.plan?.next);
    assert.ok(
      carried.every((next, k) => next !== undefined && next > 0 && next < PAGES && (k === 0 || next > carried[k - 1]!)),
      `each run goes on from the pages done before it: ${JSON.stringify(carried)}`,
    );

    // Every page once, all of one plan (the first run's id), planned once; the housekeeping ran once.
    assert.deepEqual(
      calls.pages.map((c) => c.page).sort((a, b) => a - b),
      Array.from({ length: PAGES }, (_, p) => p),
    );
    assert.deepEqual(calls.plans, [first]);
    assert.ok(calls.pages.every((c) => c.planId === first));
    assert.equal(calls.housekeeping, 1);
    assert.ok(new Set(calls.pages.map((c) => c.runId)).size >= 2, 'pages were reconciled in more than one run');
    // Each run reconciled exactly the pages from its carried `next` to the next run's.
    runs.forEach((h, k) => {
      const runId = h.events![0]!.workflowExecutionStartedEventAttributes!.originalExecutionRunId;
      const from = inputs[k]?.plan?.next ?? 0;
      const to = inputs[k + 1]?.plan?.next ?? PAGES;
      const pages = calls.pages.filter((c) => c.runId === runId).map((c) => c.page);
      assert.deepEqual(
        pages.sort((a, b) => a - b),
        Array.from({ length: to - from }, (_, p) => from + p),
        `run ${k + 1}`,
      );
    });

    // The report sums every page of every run, and counts the plan and the housekeeping once.
    assert.equal(report.scanned, (PAGES * (PAGES + 1)) / 2);
    assert.deepEqual([...report.resumed].sort(), Array.from({ length: PAGES }, (_, p) => `inst-${p}`).sort());
    assert.equal(report.counts.resumed, PAGES);
    assert.equal(report.talkdeskChecked, PAGES);
    assert.equal(report.talkdeskDeferred, 4);
    assert.equal(report.counts.errors, 1);
    assert.deepEqual(report.errors, [{ installationId: 'inst-4', message: 'page 4 found an error' }]);
    assert.equal(report.dispatchedEvents, 3);
    assert.equal(report.credentialsDestroyed, 2);
    assert.ok(report.finishedAt);
    // The first run began the report, and every later run carried it as it was: its time is the first run's start.
    assert.ok(
      inputs.slice(1).every((i) => i.report?.startedAt === report.startedAt),
      `each run carried the report begun by the first: ${JSON.stringify(inputs.map((i) => i.report?.startedAt))}`,
    );
    const [firstStartMs, secondStartMs] = [0, 1].map((k) => tsToMs(runs[k]!.events![0]!.eventTime));
    assert.ok(
      Date.parse(report.startedAt) >= firstStartMs! - 1_000 && Date.parse(report.startedAt) < secondStartMs!,
      `the report began in the first run: ${report.startedAt}`,
    );
  });

  it("gives a page the budget's spread (half the interval) and a quarter of an hour more, never under 30 minutes", async () => {
    const env = server!.env;
    const timeoutOf = async (input: ReconcileInput) => {
      const { workflowId } = await runPass(env, input, 1);
      const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const page = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'reconcilePlannedPage');
      return Number(page?.activityTaskScheduledEventAttributes?.startToCloseTimeout?.seconds ?? 0) / 60;
    };
    assert.equal(await timeoutOf({}), 30, 'the default interval (15 minutes): 30 minutes as before');
    // Four hours: reads spread over two, a fixed 30 minutes timed the page out four times over.
    assert.equal(await timeoutOf({ intervalMinutes: 240 }), 135);
  });

  it("reports a page that fails for good in the pass's errors and reconciles the pages after it (patch reconcile-page-failures-reported)", async () => {
    const { report, calls } = await runPass(server!.env, { pageSize: 2, parallelism: 2 }, 5, 1);
    assert.deepEqual(calls.pages.map((c) => c.page).sort(), [0, 1, 2, 3, 4]);
    assert.deepEqual(report.errors, [
      { installationId: '(page 1)', message: 'page 1 not reconciled: the plan page could not be read' },
      { installationId: 'inst-4', message: 'page 4 found an error' }, // the stub's own, page 4
    ]);
    assert.equal(report.scanned, 1 + 3 + 4 + 5, 'every other page merged');
    assert.ok(report.finishedAt);
  });

  it('a cancelled pass ends cancelled, its running pages not reported and gone on from', async () => {
    const env = server!.env;
    let seen: { pages: { page: number }[]; pageCancelled: boolean } | undefined;
    const outcome = await runPass(env, { pageSize: 2, parallelism: 2 }, 5, undefined, async (handle, calls) => {
      seen = calls;
      // Pages 0 and 1 themselves running (each until cancelled), not merely scheduled.
      await eventually('pages 0 and 1 running', async () => calls.pages.length >= 2 || undefined);
      await handle.cancel();
    }).then(
      () => 'completed',
      (err: unknown) => (err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure ? 'cancelled' : String(err)),
    );
    assert.equal(outcome, 'cancelled');
    await eventually('the running page cancelled', async () => seen?.pageCancelled || undefined);
    // Pages 0 and 1 held their two slots until the cancel: a pass going on would have started page 2 in a freed one.
    assert.deepEqual(seen?.pages.map((p) => p.page).sort(), [0, 1], 'no page started after the cancel');
  });
});
