import type { EventLinks, InstallationPhase, InstallationView, LifecycleEvent, PhaseRecord } from './definitions';

/** Everything the workflow knows; carried whole across continue-as-new. Secret-free by construction. */
export interface InstallationState {
  installationId: string;
  appId?: string;
  accountId?: string;
  accountName?: string;
  phase: InstallationPhase;
  links: EventLinks;
  activeClientId?: string;
  deadline?: string;
  currentStep?: string;
  history: PhaseRecord[];
  lastError?: string;
  attempts: number;
  queue: LifecycleEvent[];
  seenEventIds: string[];
  /**
   * Events whose handling is finished (applied to the end, or ignored), newest last;
   * stored with the phase so that a later run never handles one again. Optional:
   * states carried from runs before it existed lack it.
   */
  handledEventIds?: string[];
  lastAppliedAt?: string;
  appliedEvents: number;
  ignoredEvents: { eventId: string; reason: string }[];
  trial?: InstallationView['trial'];
  retiring: { clientId: string; retireAt: string }[];
  operatorActions: { action: string; at: string; reason?: string }[];
  settingsRestored?: boolean;
  subscription?: Record<string, unknown>;
  /** `created_at` of the update whose subscription is kept (a late update's subscription never replaces a newer one). */
  subscriptionFrom?: string;
  /**
   * `created_at` of the newest event applied, per kind (the lateness rules of
   * `late.ts`). Only applied events move it, never ignored ones. Optional: states
   * carried from runs before it existed lack it.
   */
  appliedAt?: Partial<Record<EventKind, string>>;
  /**
   * The type of the trial event applied at `appliedAt.trial`, the latest in the lifecycle's order of that second: an
   * event of the same second earlier in that order is late (`trialTieLate`). Absent: states carried from runs before it.
   */
  appliedTrialType?: LifecycleEvent['type'];
  /**
   * Set only in the state a run hands over when it continues as new in the middle of a
   * phase (workflow.ts): the event whose phase the next run re-enters, and the step it
   * was backing off in (its attempt count and the time of its next attempt go on).
   */
  resume?: ResumePoint;
}

export interface ResumePoint {
  event: LifecycleEvent;
  /** Applied as a late update (late.ts). */
  late: boolean;
  step: string;
  attempt: number;
  retryAt: string;
  /**
   * A rotation's or an uninstall's acknowledgement was sent by an earlier run (a 409 then means it landed; credentials
   * refused, that the uninstall concluded), whatever step was cut.
   */
  ackBegun?: boolean;
  /** A late update's calls were keyed by the newest update applied (late-update-keyed-by-newest-applied): kept so. */
  lateKeyed?: boolean;
}

/** The kinds of event whose lateness is judged against each other. */
export type EventKind = 'install' | 'uninstall' | 'rotation' | 'trial' | 'update';

export function kindOf(event: LifecycleEvent): EventKind {
  switch (event.type) {
    case 'app.installed':
      return 'install';
    case 'app.uninstalled':
      return 'uninstall';
    case 'app.credentials_rotated':
      return 'rotation';
    case 'app.updated':
      return 'update';
    case 'app.trial_started':
    case 'app.trial_extended':
    case 'app.trial_ended':
      return 'trial';
  }
}

/** The event was applied (not ignored): events of its kind older than it are late from now on. */
export function markKindApplied(state: InstallationState, kind: EventKind, createdAt: string): void {
  const at = state.appliedAt?.[kind];
  if (!at || Date.parse(createdAt) > Date.parse(at)) state.appliedAt = { ...state.appliedAt, [kind]: createdAt };
}

/** Keeps the type of an applied trial event beside its time (call before `markKindApplied`, which moves the time). */
export function noteTrialType(state: InstallationState, event: LifecycleEvent): void {
  if (kindOf(event) !== 'trial') return;
  const at = state.appliedAt?.trial;
  const t = Date.parse(event.createdAt);
  const known = state.appliedTrialType;
  if (!at || t > Date.parse(at) || (t === Date.parse(at) && known !== undefined && TYPE_ORDER[event.type] > TYPE_ORDER[known])) {
    state.appliedTrialType = event.type;
  }
}

/**
 * A trial event of the same second as the trial event applied but earlier in the lifecycle's order (a start after an
 * end of its second): late, as the queue would have put it first. `created_at` has one-second resolution.
 */
export function trialTieLate(state: InstallationState, event: LifecycleEvent): boolean {
  const at = state.appliedAt?.trial;
  const type = state.appliedTrialType;
  if (kindOf(event) !== 'trial' || at === undefined || type === undefined) return false;
  return Date.parse(event.createdAt) === Date.parse(at) && TYPE_ORDER[event.type] < TYPE_ORDER[type];
}

/**
 * An update or uninstall delivered behind `applying`, an update, and newer than it: Talkdesk opens one operation at a
 * time, so a `pending` it shows now is that newer one's, and the update's own is concluded (an earlier attempt landed).
 * Its state call is then judged as a late update's: never sent (src/talkdesk/concluded.ts).
 */
export function newerOperationQueued(state: InstallationState, applying: LifecycleEvent | undefined): boolean {
  if (applying?.type !== 'app.updated') return false;
  const since = Date.parse(applying.createdAt);
  return state.queue.some(
    (e) => (e.type === 'app.updated' || e.type === 'app.uninstalled') && e.eventId !== applying.eventId && Date.parse(e.createdAt) >= since,
  );
}

/** Is the event older than an applied event of `kind`? */
export function olderThanApplied(state: InstallationState, kind: EventKind, event: LifecycleEvent): boolean {
  const at = state.appliedAt?.[kind];
  return at !== undefined && Date.parse(event.createdAt) < Date.parse(at);
}

/** The latest of some event times (ISO strings), or undefined when there is none. */
export function latest(times: readonly string[]): string | undefined {
  return times.reduce<string | undefined>((a, t) => (a === undefined || Date.parse(t) > Date.parse(a) ? t : a), undefined);
}

/**
 * What a run resumed from the record needs to judge late events (activity input only): the newest install and
 * update applied or being applied (an uninstall older than that install ended an earlier life; an older update is late),
 * the uninstall's (a later run for a late event records a newer `lastEventAt`, which is not the uninstall's time), and
 * the newest trial event's (an older one a resumed run meets must not overwrite the trial), and the newest rotation's
 * (an older one a resumed run meets must never be switched to: its set would replace the one Talkdesk keeps).
 */
export function appliedTimes(
  state: InstallationState,
  applying: LifecycleEvent | undefined,
): { installEventAt?: string; updateEventAt?: string; uninstallEventAt?: string; trialEventAt?: string; rotationEventAt?: string } {
  return {
    installEventAt: newestOf(state.appliedAt?.install, applying, 'install'),
    updateEventAt: newestOf(state.appliedAt?.update, applying, 'update'),
    uninstallEventAt: newestOf(state.appliedAt?.uninstall, applying, 'uninstall'),
    trialEventAt: newestOf(state.appliedAt?.trial, applying, 'trial'),
    rotationEventAt: newestOf(state.appliedAt?.rotation, applying, 'rotation'),
  };
}

/** The later of the event of `kind` applied last and the event being applied, if it is of that kind. */
function newestOf(applied: string | undefined, applying: LifecycleEvent | undefined, kind: EventKind): string | undefined {
  return latest([...(applied ? [applied] : []), ...(applying && kindOf(applying) === kind ? [applying.createdAt] : [])]);
}

const MAX_SEEN = 1_000;
/**
 * Enough for redeliveries that reach a new run: the inbox already refuses a repeated event
 * id at the edge, and an older event a run meets is judged by the late-events rule (installation/late.ts).
 */
export const MAX_HANDLED = 20;

export const TYPE_ORDER: Record<LifecycleEvent['type'], number> = {
  'app.installed': 0,
  'app.credentials_rotated': 1,
  'app.trial_started': 2,
  'app.trial_extended': 3,
  'app.updated': 4,
  'app.trial_ended': 5,
  'app.uninstalled': 6,
};
const MAX_KEPT = 50;

export function initialState(installationId: string): InstallationState {
  return {
    installationId,
    phase: 'new',
    links: {},
    history: [],
    attempts: 0,
    queue: [],
    seenEventIds: [],
    appliedEvents: 0,
    ignoredEvents: [],
    retiring: [],
    operatorActions: [],
  };
}

/** Keeps the tail of a list so the state (and so the history) stays small. */
export function keepLast<T>(list: T[], max = MAX_KEPT): T[] {
  return list.length > max ? list.slice(list.length - max) : list;
}

/**
 * Adds a delivered event to the queue in `created_at` order (ties by event id).
 * Returns false for an event id seen before: delivery is at least once.
 */
export function enqueue(state: InstallationState, event: LifecycleEvent): boolean {
  if (state.seenEventIds.includes(event.eventId)) return false;
  state.seenEventIds = keepLast([...state.seenEventIds, event.eventId], MAX_SEEN);
  // Talkdesk's created_at has one-second resolution: equal times follow the lifecycle's
  // natural order (install first, uninstall last), then arrival order.
  const key = (e: LifecycleEvent) => [Date.parse(e.createdAt), TYPE_ORDER[e.type]] as const;
  const [t, r] = key(event);
  const idx = state.queue.findIndex((q) => {
    const [qt, qr] = key(q);
    return qt > t || (qt === t && qr > r);
  });
  if (idx === -1) state.queue.push(event);
  else state.queue.splice(idx, 0, event);
  return true;
}

/** An event older than one already applied is superseded: recorded, never applied. */
export function isSuperseded(state: InstallationState, event: LifecycleEvent): boolean {
  return state.lastAppliedAt !== undefined && Date.parse(event.createdAt) < Date.parse(state.lastAppliedAt);
}

/** The event's handling is finished: a later run of this installation must not handle it again. */
export function markHandled(state: InstallationState, eventId: string): void {
  const handled = state.handledEventIds ?? [];
  if (!handled.includes(eventId)) state.handledEventIds = keepLast([...handled, eventId], MAX_HANDLED);
}

/**
 * A new run starts with what earlier runs stored: events they finished are taken
 * out of the queue (recorded as ignored) and treated as seen from now on.
 */
export function restoreHandled(state: InstallationState, handled: readonly string[]): void {
  if (handled.length === 0) return;
  state.handledEventIds = keepLast([...handled], MAX_HANDLED);
  state.seenEventIds = keepLast([...new Set([...state.seenEventIds, ...handled])], MAX_SEEN);
  for (const event of state.queue.filter((e) => handled.includes(e.eventId))) {
    state.queue = state.queue.filter((e) => e !== event);
    recordIgnored(state, event.eventId, 'already handled by an earlier run');
  }
}

export function recordIgnored(state: InstallationState, eventId: string, reason: string): void {
  state.ignoredEvents = keepLast([...state.ignoredEvents, { eventId, reason }]);
}

/** The event is being applied: anything older is superseded from now on. */
export function markApplied(state: InstallationState, event: LifecycleEvent): void {
  if (!state.lastAppliedAt || Date.parse(event.createdAt) > Date.parse(state.lastAppliedAt)) {
    state.lastAppliedAt = event.createdAt;
  }
}

export function uninstallQueued(state: InstallationState): boolean {
  return state.queue.some((e) => e.type === 'app.uninstalled');
}

export function toView(state: InstallationState, workflowId: string): InstallationView {
  return {
    installationId: state.installationId,
    workflowId,
    phase: state.phase,
    accountId: state.accountId,
    accountName: state.accountName,
    appId: state.appId,
    deadline: state.deadline,
    currentStep: state.currentStep,
    history: state.history,
    lastError: state.lastError,
    attempts: state.attempts,
    pendingEvents: state.queue.map((e) => `${e.type} ${e.eventId}`),
    appliedEvents: state.appliedEvents,
    ignoredEvents: state.ignoredEvents,
    trial: state.trial,
    activeClientId: state.activeClientId,
    retiringCredentials: state.retiring,
    settingsRestored: state.settingsRestored,
    subscription: state.subscription,
    operatorActions: state.operatorActions,
  };
}
