import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * Signals, queries and updates of the installation workflow, defined once and
 * imported by both the workflow and its callers. Payloads carry ids and facts
 * only: never a client secret, private key or access token.
 */

export const EVENT_TYPES = [
  'app.installed',
  'app.updated',
  'app.uninstalled',
  'app.credentials_rotated',
  'app.trial_started',
  'app.trial_ended',
  'app.trial_extended',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const KEY_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** The links of an event that the workflow may need (hosts already allow-listed at the edge). */
export interface EventLinks {
  root?: string;
  tokens?: string;
  installation?: string;
}

/**
 * The sign-in links of an `app.installed` or `app.credentials_rotated` (hosts allow-listed
 * at the edge): the workflow never reads them; its credentials import saves them for the
 * launch routes (`sso_links`), so the callback does not write them (docs/handover.md).
 */
export interface SignInLinks {
  authorization?: string;
  userinfo?: string;
  widgetUrl?: string;
}

/** Facts every event carries: the app version it was sent for. */
export interface VersionFacts {
  app_version_id?: string;
  app_version_name?: string;
}
/** The public half of a credential set (the secrets stay in the store). */
export interface CredentialFacts extends VersionFacts {
  client_id?: string;
  key_id?: string;
  key_algorithm?: KeyAlgorithm;
}
export interface RotationFacts extends CredentialFacts {
  compromised?: boolean;
}
export interface UpdateFacts extends VersionFacts {
  users?: { adding?: string[]; removing?: string[] };
  subscription?: Record<string, { name: string; licenses: number }>;
}
export interface UninstallFacts extends VersionFacts {
  reason?: { type: string; message?: string };
}
/** app.trial_started and app.trial_extended (whose only field we take is `expires_at`). */
export interface TrialFacts extends VersionFacts {
  expires_at?: string;
}
export interface TrialEndedFacts extends TrialFacts {
  ended_at?: string;
  ended_reason?: string;
  ended_by?: string;
}

interface EventOf<T extends EventType, F> {
  eventId: string;
  type: T;
  createdAt: string; // ISO-8601
  appId: string;
  installationId: string;
  accountId?: string;
  accountName?: string;
  /** Non-secret facts of `data`, chosen field by field (names as Talkdesk sends them). */
  facts: F;
  links: EventLinks;
  /** app.installed and app.credentials_rotated only; absent in events stored by earlier versions. */
  signInLinks?: SignInLinks;
}

/**
 * A lifecycle event as the workflow sees it: the stored event minus its secrets,
 * discriminated by `type`. Built in `src/events/lifecycle.ts`; its JSON is the
 * `event` signal's payload, so fields are only ever added, optional.
 */
export type LifecycleEvent =
  | EventOf<'app.installed', CredentialFacts>
  | EventOf<'app.credentials_rotated', RotationFacts>
  | EventOf<'app.updated', UpdateFacts>
  | EventOf<'app.uninstalled', UninstallFacts>
  | EventOf<'app.trial_started', TrialFacts>
  | EventOf<'app.trial_extended', TrialFacts>
  | EventOf<'app.trial_ended', TrialEndedFacts>;
export type LifecycleEventOf<T extends EventType> = Extract<LifecycleEvent, { type: T }>;

export const workflowIdFor = (installationId: string): string => `installation-${installationId}`;

export const INSTALLATION_PHASES = [
  'new',
  'installing',
  'active',
  'updating',
  'uninstalling',
  'uninstalled',
  'rejected',
  'expired',
] as const;
export type InstallationPhase = (typeof INSTALLATION_PHASES)[number];
/** Phases an installation never leaves (its workflow completes). */
export const FINAL_PHASES: readonly InstallationPhase[] = ['uninstalled', 'rejected', 'expired'];
/** Phases that own a Talkdesk operation and run until it concludes or their deadline. */
export const IN_PROGRESS_PHASES: readonly InstallationPhase[] = ['installing', 'updating', 'uninstalling'];

/**
 * How a phase (or a rotation) ended, for programs; `outcome` says the same in words.
 * - `approved`: an install or update approved at Talkdesk (`detail`: `settings restored` on a reinstall).
 * - `acknowledged`: an uninstall acknowledged at Talkdesk.
 * - `rotated`: new credentials in use (`detail`: `compromised` when the old set was destroyed at once).
 * - `rejected`: rejected at Talkdesk; `detail` is the reason sent (an update rejected keeps the account as it was).
 * - `expired`: Talkdesk's seven days ran out; what the phase did was undone (an uninstall deprovisions locally).
 * - `interrupted`: stopped by another event or request (`detail`: by what) and undone.
 * - `failed`: an uninstall's acknowledgement failed (`detail`: why); deprovisioned locally all the same. Or a
 *   rotation failed for good (`detail`: why): its new set destroyed, the current one kept.
 * - `deprovisioned`: deprovisioned without a Talkdesk acknowledgement (`detail`: why, e.g. `Talkdesk reports revoked`).
 * - `marked-active`: Talkdesk completed the operation, reconciliation ended the phase here.
 * - `not-open`: Talkdesk did not show the phase's operation open (`detail`: what it showed), so no state
 *   call was sent; what the phase did was undone, and reconciliation reports the difference.
 * - `superseded`: a late event (older than an applied event of its kind) recorded, not applied as such
 *   (`detail`: what was done instead, see docs/installation-workflow.md "Late events").
 */
export const PHASE_RESULTS = [
  'approved',
  'acknowledged',
  'rotated',
  'rejected',
  'expired',
  'interrupted',
  'failed',
  'deprovisioned',
  'marked-active',
  'not-open',
  'superseded',
] as const;
export type PhaseResult = (typeof PHASE_RESULTS)[number];

export interface PhaseRecord {
  phase: InstallationPhase;
  eventId?: string;
  startedAt: string;
  endedAt?: string;
  deadline?: string;
  /** Display text (kept for compatibility); read `result` and `detail` in programs. */
  outcome?: string;
  result?: PhaseResult;
  detail?: string;
}

export interface InstallationView {
  installationId: string;
  workflowId: string;
  phase: InstallationPhase;
  accountId?: string;
  accountName?: string;
  appId?: string;
  deadline?: string;
  /** The step running now, in plain words. */
  currentStep?: string;
  history: PhaseRecord[];
  lastError?: string;
  attempts: number;
  pendingEvents: string[];
  appliedEvents: number;
  ignoredEvents: { eventId: string; reason: string }[];
  trial?: { startedAt?: string; expiresAt?: string; endedAt?: string; endedReason?: string; endedBy?: string };
  activeClientId?: string;
  retiringCredentials: { clientId: string; retireAt: string }[];
  settingsRestored?: boolean;
  subscription?: Record<string, unknown>;
  operatorActions: { action: string; at: string; reason?: string }[];
}

/** Talkdesk (through our callback) delivered a lifecycle event. */
export const eventSignal = defineSignal<[LifecycleEvent]>('event');
/** The full, secret-free view of the installation. */
export const stateQuery = defineQuery<InstallationView>('state');
/** Operator: retry the current phase now instead of waiting for the next backoff. */
export const retryNowUpdate = defineUpdate<InstallationView, [{ reason?: string }]>('retryNow');
/** Operator: reject the installation at Talkdesk with a reason. */
export const rejectUpdate = defineUpdate<InstallationView, [{ reason: string }]>('reject');

/**
 * What the record showed when reconciliation judged the drift: its phase and, while a phase runs, the event that phase
 * applies (`phaseEventId`). A workflow that has moved on since (a reinstall begun, a newer update) ignores the action.
 */
export interface ReconcileSeen {
  phase: InstallationPhase;
  phaseEventId?: string;
}

/** Drift found by reconciliation that the installation's workflow must act on (`seen`: optional, see above). */
export type ReconcileAction = (
  | {
      action: 'deprovision';
      talkdeskState: 'revoked' | 'rejected' | 'timeout';
      reason?: string;
      /**
       * The state's `updated_at` at Talkdesk (its clock, as events' `created_at`), sent for `revoked`: the installation's
       * life ended no later, so an event created no later is of that life (earlier-life.ts). Ignored when not a date or
       * over five minutes past the workflow's clock (taken at that clock when less); a payload whose `endedAt` is not a
       * string is not an action (ignored whole).
       */
      endedAt?: string;
    }
  | { action: 'markActive'; talkdeskState: 'completed' }
  /** Talkdesk timed out the update this workflow runs: end it (reverted); the installation stays. */
  | { action: 'endUpdate'; talkdeskState: 'timeout'; reason?: string }
) & { seen?: ReconcileSeen };

/**
 * Whether a reconcile signal's payload is one of the actions above: anything else (an operator's typo, a
 * newer sender's action) is ignored by the workflow, never taken as a deprovision.
 */
export function isReconcileAction(a: unknown): a is ReconcileAction {
  if (typeof a !== 'object' || a === null) return false;
  const { action, talkdeskState, seen, endedAt } = a as { action?: unknown; talkdeskState?: unknown; seen?: unknown; endedAt?: unknown };
  if (seen !== undefined && !isSeen(seen)) return false;
  if (endedAt !== undefined && typeof endedAt !== 'string') return false;
  if (action === 'deprovision') return talkdeskState === 'revoked' || talkdeskState === 'rejected' || talkdeskState === 'timeout';
  if (action === 'markActive') return talkdeskState === 'completed';
  if (action === 'endUpdate') return talkdeskState === 'timeout';
  return false;
}

function isSeen(s: unknown): s is ReconcileSeen {
  if (typeof s !== 'object' || s === null) return false;
  const { phase, phaseEventId } = s as { phase?: unknown; phaseEventId?: unknown };
  return INSTALLATION_PHASES.includes(phase as InstallationPhase) && (phaseEventId === undefined || typeof phaseEventId === 'string');
}

/** Reconciliation: Talkdesk's view of the installation differs from ours. */
export const reconcileSignal = defineSignal<[ReconcileAction]>('reconcile');
