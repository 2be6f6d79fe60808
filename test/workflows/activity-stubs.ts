// The workflow tests' activities: plain functions that record every call (name and input) before their behaviour runs.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { createActivities } from '../../activities';

type Activities = ReturnType<typeof createActivities>;
/** The activities the installation workflow calls (the others belong to reconciliation). */
export const WORKFLOW_ACTIVITIES = [
  'loadInstallation',
  'recordInstallation',
  'importCredentials',
  'obtainToken',
  'provisionAccount',
  'setInstallationState',
  'readInstallationState',
  'acknowledgeCredentials',
  'switchCredentials',
  'destroyCredentials',
  'destroyRevokedCredentials',
  'discardEventCredentials',
  'undoProvisioning',
  'applyUpdate',
  'revertUpdate',
  'deprovisionAccount',
  'recordTrial',
] as const satisfies readonly (keyof Activities)[];
export type ActivityName = (typeof WORKFLOW_ACTIVITIES)[number];
export interface ActivityCall {
  name: ActivityName;
  input: Record<string, unknown>;
}
export type Stub = (input: Record<string, unknown>) => Promise<unknown>;

/** A retryable failure, as a Talkdesk outage produces. */
export const unavailable = () => ApplicationFailure.retryable('Talkdesk unavailable (503)', 'TalkdeskUnavailable');
/** A failure retrying cannot fix, as a Talkdesk 400 produces. */
export const refused = (message = 'Talkdesk refused the request (400)') => ApplicationFailure.nonRetryable(message, 'TalkdeskBadRequest');

/** The stubbed activities: each call is recorded (name and input) before its behaviour runs. */
export class ActivityStubs {
  readonly calls: ActivityCall[] = [];
  private readonly behaviour: Record<ActivityName, Stub> = {
    loadInstallation: async () => null,
    recordInstallation: async () => undefined,
    importCredentials: async (i) => ({ clientId: clientIdFor(String(i.eventId)), keyId: 'key-1', keyAlgorithm: 'ES256' }),
    obtainToken: async () => ({ expiresAt: new Date(Date.now() + 3_600_000).toISOString(), scope: 'apps:write', cached: false }),
    provisionAccount: async (i) => ({ accountId: 'acct-1', accountName: String(i.accountName), licensedUsers: 1, settingsRestored: false }),
    setInstallationState: async (i) => ({ state: i.state === 'approve' ? 'completed' : 'rejected' }),
    // The last read at a deadline: Talkdesk shows the operation still open (undone as before).
    readInstallationState: async (i) => ({ state: i.concludes === 'install' ? 'installing' : 'pending', notSent: true }),
    acknowledgeCredentials: async () => undefined,
    switchCredentials: async () => undefined,
    destroyCredentials: async () => ({ destroyed: 1 }),
    // Every retiring set named counts as issued before the rotation (the store decides by its issue time).
    destroyRevokedCredentials: async (i) => ({ clientIds: i.clientIds }),
    discardEventCredentials: async () => ({ deleted: true }),
    undoProvisioning: async () => undefined,
    applyUpdate: async (i) => ({ usersAdded: i.usersAdding, usersDeactivated: i.usersRemoving }),
    revertUpdate: async () => undefined,
    deprovisionAccount: async () => undefined,
    recordTrial: async () => undefined,
  };

  /** Replaces one activity's behaviour (the call is still recorded). */
  on(name: ActivityName, fn: Stub): this {
    this.behaviour[name] = fn;
    return this;
  }

  /** Runs one activity call: recorded, then its behaviour. */
  call(name: ActivityName, input: Record<string, unknown>): Promise<unknown> {
    this.calls.push({ name, input });
    return this.behaviour[name](input);
  }

  names(): ActivityName[] {
    return this.calls.map((c) => c.name);
  }

  of(name: ActivityName): Record<string, unknown>[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.input);
  }

  /**
   * `of` without repeats of one input. A local activity runs again when the workflow task that ran it
   * fails: a run that tries to complete while a signal arrives is refused (UNHANDLED_COMMAND) and
   * replayed, and the store steps it ran before are not in its history yet. At-least-once, as on a
   * real server; the workflow's decision was one call.
   */
  distinct(name: ActivityName): Record<string, unknown>[] {
    const byInput = new Map(this.of(name).map((input) => [JSON.stringify(input), input]));
    return [...byInput.values()];
  }

  /** The Talkdesk state calls, as `approve:install`, `reject`, ... (a rejection whatever it concludes). */
  stateCalls(): string[] {
    return this.of('setInstallationState').map((i) =>
      i.concludes && i.state !== 'reject' ? `${String(i.state)}:${String(i.concludes)}` : String(i.state),
    );
  }
}

/** The client id the stubbed import returns for an event's credentials. */
export const clientIdFor = (eventId: string) => `client-${eventId}`;

/** An activity that runs until it is cancelled, heartbeating; `stopped` resolves once it has stopped. */
export function blockingUntilCancelled(): { stub: Stub; started: Promise<void>; stopped: Promise<void> } {
  const started = deferred();
  const stopped = deferred();
  const stub: Stub = async () => {
    started.resolve();
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), 200);
    try {
      await ctx.cancelled;
    } finally {
      clearInterval(beat);
      stopped.resolve();
    }
  };
  return { stub, started: started.promise, stopped: stopped.promise };
}

/** Every workflow activity, each answered by the stubs `stubsFor` picks for its input. */
export const activitiesOf = (stubsFor: (input: Record<string, unknown>) => ActivityStubs) =>
  Object.fromEntries(WORKFLOW_ACTIVITIES.map((name) => [name, (input: Record<string, unknown>) => stubsFor(input).call(name, input)]));

/** Every workflow activity, each answered by `stubs` (for a worker of a test's own). */
export const stubbedActivities = (stubs: ActivityStubs) => activitiesOf(() => stubs);

/** A promise to resolve from outside: a gate a stubbed activity waits on, or a mark that it began. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A run started for an installation whose workflow was lost: `loadInstallation` answers its stored record (`record` over the usual fields). */
export const resumedFromRecord = (record: { phase: string } & Record<string, unknown>) =>
  new ActivityStubs().on('loadInstallation', async () => ({
    appId: 'app-1',
    accountId: 'acct-1',
    activeClientId: 'client-lost-run',
    links: { root: 'https://api.talkdesk.test' },
    ...record,
  }));
