// Workflow tests in the style of Temporal's samples: the installation workflow on
// the time-skipping test server, its activities replaced by plain functions that
// record every call (activity-stubs.ts). Days pass in milliseconds while a test awaits
// a result or `env.sleep`; otherwise the server's clock runs at real speed.
import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  eventSignal,
  reconcileSignal,
  stateQuery,
  workflowIdFor,
  type EventType,
  type InstallationView,
  type LifecycleEvent,
  type ReconcileAction,
} from '../../workflows/definitions';
import type { installationWorkflow } from '../../workflows';
import type { InstallationOptions } from '../../workflows/options';
import type { InstallationState } from '../../workflows/state';
import { eventually, saveHistory } from '../support/waits';
import { ActivityStubs } from './activity-stubs';
import { currentEnv, freshServerIfSuspect, lastEnv, serverSuspect, sharedWorker, stubsByInstallation, suspectServer } from './shared-env';

export * from './activity-stubs';

export const DAY = 24 * 3_600_000;

/** Retries back off up to six hours, so a week of retries is a few dozen attempts. */
export const TEST_OPTIONS: Partial<InstallationOptions> = {
  retryInitialMs: 500,
  retryMaxMs: 6 * 3_600_000,
  activityTimeoutMs: 10_000,
  heartbeatTimeoutMs: 5_000,
};

/**
 * One retry for each workflow test, said aloud. The time-skipping test server has open defects that
 * stall a workflow now and then under load (a refused completion leaves its workflow task started and
 * never redelivered: temporalio/sdk-java#3088, #2606). A test that fails twice fails; a retried one
 * prints its first failure, so that a flaky bug of the workflow's own still shows in the run's output.
 */
function retryOnceAloud(suite: Mocha.Suite): void {
  for (const test of suite.tests) {
    const fn = test.fn as Mocha.AsyncFunc | undefined;
    // A test taking `done` is called by its arity: left as it is (none does today).
    if (!fn || fn.length > 0 || test.retries() > 0) continue;
    test.retries(1);
    test.fn = async function (this: Mocha.Context) {
      const attempt = this.test; // the context is the suite's: read before a timed-out attempt ends late
      try {
        await fn.call(this);
      } catch (err) {
        // `this.skip()` throws Mocha's Pending: not a failure. An attempt that timed out was reported by afterEach.
        if (attempt && !attempt.timedOut && (err as Error)?.constructor?.name !== 'Pending') {
          warnRetry(attempt, (err as Error).message);
          suspectServer(`${attempt.fullTitle()} failed`);
        }
        throw err;
      }
    };
  }
  suite.suites.forEach(retryOnceAloud);
}

function warnRetry(test: Mocha.Runnable, why: string): void {
  // Mocha's typings mark currentRetry protected; it is how its runner decides to retry.
  const retry = (test as unknown as { currentRetry(): number }).currentRetry();
  if (retry < test.retries()) console.warn(`      [retried] ${test.fullTitle()} failed once: ${why}`);
}

/**
 * The time-skipping server and worker shared by the workflow tests (the root hook stops them at the end of
 * the run); replaced before the test that follows a failure (shared-env.ts).
 */
export function useTimeSkippingEnv(): () => TestWorkflowEnvironment {
  before(async function () {
    this.timeout(120_000);
    if (this.test?.parent) retryOnceAloud(this.test.parent);
    await currentEnv();
  });
  beforeEach(async function () {
    this.timeout(120_000);
    await freshServerIfSuspect();
  });
  afterEach(function () {
    // A timeout ends the test without the test's own promise failing: said here.
    if (this.currentTest?.timedOut) warnRetry(this.currentTest, 'timed out');
    if (this.currentTest?.timedOut || this.currentTest?.state === 'failed') suspectServer(`${this.currentTest.fullTitle()} failed`);
  });
  return () => {
    const env = lastEnv();
    if (!env) throw new Error('the time-skipping server did not start');
    return env;
  };
}

/** One installation workflow under test; its activity calls go to its own stubs. */
export class InstallationUnderTest {
  readonly installationId = `inst-${randomBytes(4).toString('hex')}`;
  readonly handle: WorkflowHandle<typeof installationWorkflow>;
  private nextSecond = 0;

  private constructor(
    readonly env: TestWorkflowEnvironment,
    readonly stubs: ActivityStubs,
    /** The server's time when the test began: events are dated from it. */
    readonly t0: number,
  ) {
    this.handle = env.client.workflow.getHandle<typeof installationWorkflow>(workflowIdFor(this.installationId));
  }

  /**
   * `carried`: the run is handed that state (as continue-as-new hands it over), and `first` is signalled in its first
   * workflow task (signal-with-start), as a signal that arrived while the previous run continued as new.
   */
  static async start(
    env: TestWorkflowEnvironment,
    stubs = new ActivityStubs(),
    options: Partial<InstallationOptions> = {},
    handOver?: {
      carried: (t: InstallationUnderTest) => InstallationState;
      first: (t: InstallationUnderTest) => LifecycleEvent;
      /** Signalled instead of `first`: reconciliation's action arriving in the run's first task. */
      reconcile?: (t: InstallationUnderTest) => ReconcileAction;
    },
  ): Promise<InstallationUnderTest> {
    const t = new InstallationUnderTest(env, stubs, await env.currentTimeMs());
    stubsByInstallation.set(t.installationId, stubs);
    const workflowId = workflowIdFor(t.installationId);
    const taskQueue = await sharedWorker(env);
    const input = { installationId: t.installationId, options: { ...TEST_OPTIONS, ...options } };
    if (!handOver) await env.client.workflow.start('installationWorkflow', { workflowId, taskQueue, args: [input] });
    else {
      const started = { workflowId, taskQueue, args: [{ ...input, carried: handOver.carried(t) }] };
      if (handOver.reconcile)
        await env.client.workflow.signalWithStart('installationWorkflow', {
          ...started,
          signal: reconcileSignal,
          signalArgs: [handOver.reconcile(t)],
        });
      else
        await env.client.workflow.signalWithStart('installationWorkflow', {
          ...started,
          signal: eventSignal,
          signalArgs: [handOver.first(t)],
        });
    }
    return t;
  }

  /** An event of this installation, dated `atSeconds` after the test began (each call one second later by default). */
  event(type: EventType, opts: { id?: string; atSeconds?: number; facts?: Record<string, unknown> } = {}): LifecycleEvent {
    const at = opts.atSeconds ?? ++this.nextSecond;
    return {
      eventId: opts.id ?? `${type.replace('app.', '')}-${randomBytes(3).toString('hex')}`,
      type,
      createdAt: new Date(this.t0 + at * 1000).toISOString(),
      appId: 'app-1',
      installationId: this.installationId,
      accountId: 'acct-1',
      accountName: 'Acme',
      facts: opts.facts ?? {},
      links: { root: 'https://api.talkdesk.test', tokens: 'https://acme.talkdesk.test/oauth/token' },
    };
  }

  async send(...events: LifecycleEvent[]): Promise<void> {
    for (const e of events) await this.handle.signal(eventSignal, e);
  }

  state(): Promise<InstallationView> {
    return this.handle.query(stateQuery);
  }
  /** The ids of the patch markers the run recorded, in order. */
  async patches(): Promise<string[]> {
    const events = (await this.handle.fetchHistory()).events ?? [];
    return events.flatMap((e) => {
      const m = e.markerRecordedEventAttributes;
      const data = m?.markerName === 'core_patch' ? m.details?.['patch-data']?.payloads?.[0]?.data : undefined;
      return data ? [(JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id] : [];
    });
  }
  /** The Temporal UI's "current details" of the workflow (`setCurrentDetails`). */
  async currentDetails(): Promise<string> {
    const meta = await this.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    return meta.currentDetails ?? '';
  }

  /** Polls the `state` query until `check` holds (real time: queries do not skip time), failing with the last state seen. */
  async until(what: string, check: (v: InstallationView) => boolean, timeoutMs = 20_000): Promise<InstallationView> {
    let last: InstallationView | undefined;
    try {
      return await eventually(
        what,
        async () => {
          last = await this.state();
          return check(last) ? last : undefined;
        },
        timeoutMs,
      );
    } catch (err) {
      const saved = await saveHistory(this.env.client, this.installationId);
      throw new Error(`${(err as Error).message}; last state: ${JSON.stringify(last)}${saved}`);
    }
  }

  /** Settled in `phase` with nothing queued or running. */
  settled(phase: string, extra: (v: InstallationView) => boolean = () => true): Promise<InstallationView> {
    return this.until(`phase ${phase}`, (v) => v.phase === phase && v.pendingEvents.length === 0 && !v.currentStep && extra(v));
  }

  /** The workflow's result; awaiting it lets the server skip time. */
  result(): Promise<InstallationView> {
    return this.handle.result();
  }

  async close(): Promise<void> {
    // A workflow a test left running (it waits for events forever) must not outlive its test.
    // Terminated while a workflow task is in flight, the test server keeps time skipping
    // locked for the tests that follow (their env.sleep never returns): wait for it to be idle,
    // unless that server is replaced before the next test anyway.
    if (!serverSuspect())
      await eventually(
        'the workflow to be idle before it is terminated',
        async () => {
          const { raw, status } = await this.handle.describe();
          return status.name !== 'RUNNING' || !raw.pendingWorkflowTask ? true : undefined;
        },
        30_000,
      ).catch(() => undefined);
    await this.handle.terminate('test finished').catch(() => undefined);
    stubsByInstallation.delete(this.installationId);
  }
}

/**
 * The set-up every workflow test file shares: the time-skipping server and worker, and `start`,
 * which starts an installation workflow that is closed after its test (left running, it would
 * wait for events forever).
 */
export function useInstallationUnderTest(): {
  env: () => TestWorkflowEnvironment;
  start: (
    stubs?: ActivityStubs,
    options?: Partial<InstallationOptions>,
    handOver?: Parameters<typeof InstallationUnderTest.start>[3],
  ) => Promise<InstallationUnderTest>;
} {
  const env = useTimeSkippingEnv();
  const started: InstallationUnderTest[] = [];
  afterEach(async () => {
    for (const t of started.splice(0)) await t.close();
  });
  const start = async (
    stubs?: ActivityStubs,
    options?: Partial<InstallationOptions>,
    handOver?: Parameters<typeof InstallationUnderTest.start>[3],
  ) => {
    const t = await InstallationUnderTest.start(env(), stubs, options, handOver);
    started.push(t);
    return t;
  };
  return { env, start };
}

/** The phases the history went through, oldest first. */
export const phases = (v: InstallationView) => v.history.map((h) => h.phase);

/** Why an update was refused: its validator's message. */
export async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : (err as Error).message;
  }
  throw new Error('the update was accepted; it should have been refused');
}
