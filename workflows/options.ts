/**
 * Tunables of the installation workflow. They travel in the workflow input (and
 * across continue-as-new) so that behaviour is deterministic and tests can shorten
 * the days and minutes Talkdesk's rules are written in.
 */
export interface InstallationOptions {
  /** Talkdesk gives every install, update and uninstall seven days. */
  phaseTimeoutMs: number;
  /**
   * A phase ends this long before Talkdesk's seven days (one hour by default), so that
   * its last state call ends while Talkdesk still accepts it.
   */
  phaseMarginMs: number;
  /** Routine credential rotation: both sets valid for seven days. */
  rotationGraceMs: number;
  /** How long a first event that is not `app.installed` waits for the install to arrive (Talkdesk retries after 5 and 10 min). */
  orderingGraceMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  activityTimeoutMs: number;
  /**
   * How long an attempt of an activity that heartbeats may run (provisioning, updates, undos, state calls): a large
   * account's provision sends many pages to the partner and writes thousands of user mappings, more than
   * `activityTimeoutMs`, and every attempt restarted from its first page. The heartbeat finds a dead worker.
   * A run whose input lacks it (started before it existed) takes the default: replay does not compare timeouts.
   */
  heartbeatingActivityTimeoutMs: number;
  heartbeatTimeoutMs: number;
  /** Continue-as-new after this many handled events even if the server has not suggested it yet. */
  maxEventsPerRun: number;
  /**
   * Continue-as-new in the middle of a phase (at a backoff between attempts) once the run's
   * history has this many events, even if the server has not suggested it yet (it suggests
   * at a few thousand; its hard limit is 51,200).
   */
  maxHistoryEventsPerRun: number;
}

const DAY = 24 * 60 * 60 * 1000;

export const DEFAULT_INSTALLATION_OPTIONS: InstallationOptions = {
  phaseTimeoutMs: 7 * DAY,
  phaseMarginMs: 60 * 60 * 1000,
  rotationGraceMs: 7 * DAY,
  orderingGraceMs: 15 * 60 * 1000,
  retryInitialMs: 1_000,
  retryMaxMs: 10 * 60 * 1000,
  activityTimeoutMs: 60_000,
  heartbeatingActivityTimeoutMs: 10 * 60_000,
  heartbeatTimeoutMs: 20_000,
  maxEventsPerRun: 500,
  maxHistoryEventsPerRun: 10_000,
};

export function withDefaults(partial: Partial<InstallationOptions> | undefined): InstallationOptions {
  return { ...DEFAULT_INSTALLATION_OPTIONS, ...(partial ?? {}) };
}
