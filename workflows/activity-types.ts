/**
 * Inputs and outputs of the activities, shared by the workflow (types only) and the
 * activity factory. Ids and facts only: activities read secrets from the store.
 */
import type { InstallationPhase, InstallationView } from './definitions';

/**
 * The failure type of a partner's refusal for good (a 4xx from its provisioning): its message
 * is the partner's sanitised reason, the one failure whose words Talkdesk shows the customer.
 */
export const PARTNER_REFUSED = 'PartnerRefused';

/** Talkdesk refused the credential set itself (src/talkdesk/failures.ts): its token, or a call made with it. */
export const CREDENTIALS_REFUSED: readonly string[] = ['TalkdeskInvalidClient', 'TalkdeskUnauthorized'];

/** The credential set is gone here (destroyed, or never stored): activities/failures.ts `credentialsMissing`. */
export const CREDENTIALS_MISSING = 'CredentialsMissing';

export interface InstallationRef {
  installationId: string;
}

export interface TalkdeskCallRef extends InstallationRef {
  appId: string;
  clientId: string;
  rootUrl: string;
}

export interface ImportCredentialsInput extends InstallationRef {
  eventId: string;
}
export interface ImportCredentialsResult {
  clientId: string;
  keyId: string;
  keyAlgorithm: string;
  /**
   * The event's copy was gone and its set already stored: an earlier attempt or run imported it, and
   * may have gone further (a rotation's acknowledgement may have landed).
   */
  alreadyImported?: boolean;
}

export interface ObtainTokenResult {
  expiresAt: string;
  scope: string;
  cached: boolean;
}

/**
 * The Talkdesk event a partner call stems from: its id keys the call (the same on
 * every retry), its `created_at` is the hook's `occurred_at`. Optional: without
 * them the activity keys the call by the phase's event time in the store.
 */
export interface PartnerEventRef {
  eventId?: string;
  occurredAt?: string;
}

export interface ProvisionInput extends TalkdeskCallRef, PartnerEventRef {
  accountName: string;
}

export interface ProvisionResult {
  accountId: string;
  accountName: string;
  licensedUsers: number;
  settingsRestored: boolean;
  /** The partner's own id for the account, when its provisioning returned one. */
  partnerAccountId?: string;
}

/** Undo or deprovision: the account may be unknown (the install never read it). */
export interface AccountCallInput extends InstallationRef, PartnerEventRef {
  accountId?: string;
}

export interface RevertInput extends InstallationRef, PartnerEventRef {
  accountId: string;
  /** The reverted update's own (`UpdateInput.lateAfter`): the key its change was planned under. */
  lateAfter?: string;
  /** What the update applied; absent when it was stopped while applying: the plan its first attempt kept says (none: nothing applied). */
  applied?: UpdateResult;
}

export interface UpdateInput extends TalkdeskCallRef, PartnerEventRef {
  accountId: string;
  usersAdding: string[];
  usersRemoving: string[];
  subscription?: Record<string, unknown>;
  /**
   * A late update (older than one applied): ignore the delta, read the licensed
   * users from Talkdesk (the source of truth) and apply the difference with the account.
   */
  resyncUsers?: boolean;
  /**
   * A late update: `created_at` of the newest update applied when its phase began. Its calls are keyed by it too, so a
   * later handling of the same event after a newer update (a lost run's, handed over again) plans afresh instead of
   * re-applying the change planned before that update; a retry, or a run resumed with nothing applied since, keeps it.
   */
  lateAfter?: string;
}
export interface UpdateResult {
  usersAdded: string[];
  usersDeactivated: string[];
  previousSubscription?: Record<string, unknown>;
}

export interface StateCallInput extends TalkdeskCallRef {
  state: 'approve' | 'reject';
  reason?: string;
  /** The Talkdesk operation this call concludes. */
  concludes?: 'install' | 'update' | 'uninstall';
  /**
   * An earlier attempt may have reached Talkdesk (it timed out or its worker died):
   * read the installation's state first and do not send the call again if it
   * already took effect.
   */
  checkFirst?: boolean;
  /**
   * A late update's call (older than an update already applied): read first, and never sent, since
   * whatever Talkdesk has open is newer (`decideStateCall`). Activity input only.
   */
  late?: boolean;
  /**
   * An earlier attempt of this same call may have reached Talkdesk (a retry of the step, or an uninstall a lost
   * run had begun, resumed by reconciliation). Only an uninstall acknowledgement uses it: credentials Talkdesk refuses after such an
   * attempt were revoked by that acknowledgement, so it concluded. Activity input only (no command change).
   */
  resent?: boolean;
}

/**
 * A last read at a phase's deadline (patch expired-phase-reads-talkdesk-last): Talkdesk's state, never a call. An
 * activity of its own, so that a worker of an older version cannot take it for a state call and send one.
 */
export interface DeadlineReadInput extends TalkdeskCallRef {
  concludes: 'install' | 'update';
  /** An update with a newer update or uninstall delivered behind it (workflows/state.ts newerOperationQueued): Talkdesk
   * opened that one once this one concluded, so `pending` shows it concluded. Input only (no command change). */
  late?: boolean;
}

export interface StateCallResult {
  state: string;
  /** True when Talkdesk already showed the outcome, so nothing was sent. */
  alreadyConcluded?: boolean;
  /** True when Talkdesk showed another state than the phase's open operation, so nothing was sent. */
  notSent?: boolean;
  /** Talkdesk's reason for that state, if it gave one. */
  reason?: string;
}

export interface TrialInput extends InstallationRef, PartnerEventRef {
  accountId?: string;
  /** `app.trial_started`, `app.trial_ended`, `app.trial_extended`; the partner accepts any. */
  eventType?: string;
  /** The trial event's non-secret fields as Talkdesk sent them. */
  fields?: Record<string, unknown>;
  trial: { startedAt?: string; expiresAt?: string; endedAt?: string; endedReason?: string; endedBy?: string };
}

export interface RecordPhaseInput extends InstallationRef {
  workflowId: string;
  appId: string;
  accountId?: string;
  accountName?: string;
  phase: InstallationPhase;
  activeClientId?: string;
  lastEventAt?: string;
  /** `created_at` of the newest app.installed applied or being applied: an older uninstall ended an earlier life. */
  installEventAt?: string;
  /** `created_at` of the newest app.updated applied: an older update is late. */
  updateEventAt?: string;
  /** `created_at` of the update whose subscription the installation holds ('' when none set one): an older update's is not taken. */
  subscriptionFrom?: string;
  /** `created_at` of the uninstall applied: an install older than it is over, a newer one a reinstall. */
  uninstallEventAt?: string;
  /** `created_at` of the newest trial event applied: an older one is late. */
  trialEventAt?: string;
  /** `created_at` of the newest rotation applied: an older one is late (acknowledged if owed, never switched to). */
  rotationEventAt?: string;
  handledEventIds?: string[];
  /** The event whose phase is under way (none between phases): a run resumed from the record knows which it was. */
  phaseEventId?: string;
  links: { root?: string; tokens?: string; installation?: string };
}

export interface StoredInstallation {
  phase: InstallationPhase;
  lastEventAt?: string;
  installEventAt?: string;
  updateEventAt?: string;
  subscriptionFrom?: string;
  uninstallEventAt?: string;
  trialEventAt?: string;
  rotationEventAt?: string;
  handledEventIds?: string[];
  phaseEventId?: string;
  appId?: string;
  accountId?: string;
  accountName?: string;
  activeClientId?: string;
  links?: { root?: string; tokens?: string; installation?: string };
  /** A live installation's sets retiring (a routine rotation's old set until Talkdesk's grace ends). */
  retiring?: { clientId: string; retireAt: string }[];
  /** A live installation's trial as its account holds it (that account is this installation's). */
  trial?: InstallationView['trial'];
}

/** The activities that only read and write the partner store (no Talkdesk, no partner call): the workflow's store steps. */
export type StoreActivity =
  | 'loadInstallation'
  | 'recordInstallation'
  | 'importCredentials'
  | 'switchCredentials'
  | 'destroyCredentials'
  | 'destroyRevokedCredentials'
  | 'discardEventCredentials';
