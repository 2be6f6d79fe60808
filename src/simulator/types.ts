/**
 * Public types of the Talkdesk simulator. Field names of wire objects (events, API
 * bodies) follow Talkdesk's snake_case; simulator-side views use camelCase.
 */

export const KEY_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export const SCOPES = ['apps:read', 'apps:write', 'account:read', 'users:read'] as const;
export type Scope = (typeof SCOPES)[number];

/** Names used for fault injection and in `calls`. */
export const ROUTES = [
  'token',
  'account',
  'users',
  'licensedUsers',
  'installation',
  'installationState',
  'credentialsState',
  'authorize',
  'userinfo',
] as const;
export type RouteName = (typeof ROUTES)[number];

/** Installation states as Talkdesk reports them in `_embedded.state.state`. */
export type InstallationStateName =
  | 'installing'
  | 'pending'
  | 'timeout'
  | 'completed'
  | 'failed'
  | 'rejected'
  | 'suspended'
  | 'revoked'
  // The launch guide's prose names for an open update and uninstall (`openStateNames: 'prose'`).
  | 'updating'
  | 'uninstalled';

/** What an approve/reject on the state endpoint would conclude; null when nothing is pending. */
export type PendingOperation = 'install' | 'update' | 'uninstall';

/**
 * One injected fault. `status` answers at once with that status (and optional body and
 * headers; a 429 gets `Retry-After` when retryAfterSeconds is set). `delayMs` processes
 * the request normally and answers late (with `body` in place of its own when given: a call
 * that took effect but whose answer is not what the API documents). `drop` destroys the
 * socket without answering.
 */
export type Fault =
  | { status: number; retryAfterSeconds?: number; body?: Record<string, unknown>; headers?: Record<string, string> }
  | { delayMs: number; body?: Record<string, unknown> }
  | { drop: true };

/** Probabilistic faults for soak tests; each request draws once. */
export interface ChaosOptions {
  p500?: number;
  p429?: number;
  retryAfterSeconds?: number;
  /** Probability of answering (normally) only after hangMs. */
  pHang?: number;
  hangMs?: number;
  /** Restrict chaos to these routes (default: all). */
  routes?: RouteName[];
  /** Seed for a reproducible sequence (default: Math.random). */
  seed?: number;
}

export interface CallRecord {
  /** When the request arrived. */
  at: Date;
  route: RouteName | 'unknown';
  method: string;
  /** Path without the query string. */
  path: string;
  query?: string;
  /** Status answered; 0 while in flight or when the socket was dropped. */
  status: number;
  installationId?: string;
  clientId?: string;
  /** Parsed JSON body of state / credentials-state calls (raw string when not JSON). */
  body?: unknown;
  /** How an authorization_code grant authenticated the client (never the credentials themselves). */
  clientAuth?: 'basic' | 'assertion';
  /** Which injected fault, if any, shaped the answer. */
  fault?: 'status' | 'delay' | 'drop' | 'chaos500' | 'chaos429' | 'chaosHang';
  /** On an answered approve or reject: the pending operation it concluded, or 'nothing' (a repeat of what was already final). */
  concluded?: PendingOperation | 'nothing';
}

export interface DeliveryRecord {
  eventId: string;
  eventType: string;
  /** 1 = first attempt, 2 and 3 = the retries. */
  attempt: number;
  at: Date;
  callbackUrl: string;
  /** HTTP status, or 0 on a connection error / timeout. */
  status: number;
  ok: boolean;
  error?: string;
}

export interface Link {
  href: string;
}

export interface Credentials {
  client_id: string;
  client_secret: string;
  private_key: string;
  public_key: string;
  key_id: string;
  key_algorithm: KeyAlgorithm;
}

interface Envelope<T extends string, D, L> {
  id: string;
  created_at: string;
  api_version: '1';
  type: T;
  app_id: string;
  app_version_id: string;
  app_version_name: string;
  data: D;
  _links: L;
}

export interface InstalledLinks {
  root: Link;
  self: Link;
  userinfo: Link;
  authorization: Link;
  tokens: Link;
  installation: Link;
  widget_url: Link;
}

export type InstalledEvent = Envelope<
  'app.installed',
  { installation_id: string; account_id: string; account_name: string } & Credentials,
  InstalledLinks
>;

export interface SubscriptionInfo {
  name: string;
  licenses: number;
}

export type UpdatedEvent = Envelope<
  'app.updated',
  {
    installation_id: string;
    account_id: string;
    account_name: string;
    users?: { adding: string[]; removing: string[] };
    subscription?: { adding: SubscriptionInfo; removing?: SubscriptionInfo };
  },
  { root: Link; self: Link }
>;

export interface UninstallReason {
  type: string;
  message: string;
}

export type UninstalledEvent = Envelope<
  'app.uninstalled',
  { installation_id: string; account_id: string; account_name: string; reason: UninstallReason },
  { root: Link; self: Link; installation: Link }
>;

/**
 * installation_id, account_id, account_name and `compromised` are OUR assumptions: the
 * public docs list only the new credentials for this event. Each is sent only when asked (RotateOptions).
 */
export type CredentialsRotatedEvent = Envelope<
  'app.credentials_rotated',
  { installation_id?: string; account_id?: string; account_name?: string; compromised?: boolean } & Credentials,
  InstalledLinks
>;

export type TrialStartedEvent = Envelope<
  'app.trial_started',
  { installation_id: string; account_id: string; expires_at: string },
  { self: Link; installation: Link; root: Link }
>;

/** Not in the reference (its fields are not documented): what we assume it carries. */
export type TrialExtendedEvent = Envelope<
  'app.trial_extended',
  { installation_id: string; account_id: string; expires_at: string },
  { self: Link; installation: Link; root: Link }
>;

export const TRIAL_ENDED_REASONS = ['trial_expired', 'app_uninstalled', 'plan_upgraded'] as const;
export type TrialEndedReason = (typeof TRIAL_ENDED_REASONS)[number];
export const TRIAL_ENDED_BY = ['system', 'user'] as const;
export type TrialEndedBy = (typeof TRIAL_ENDED_BY)[number];

/** installation_id and account_id (and the links) are OUR assumptions; the docs list only the trial fields. */
export type TrialEndedEvent = Envelope<
  'app.trial_ended',
  {
    installation_id: string;
    account_id: string;
    ended_at: string;
    expires_at: string;
    ended_reason: TrialEndedReason;
    ended_by: TrialEndedBy;
  },
  { self: Link; installation: Link; root: Link }
>;

/** Optional event (a subscription at Talkdesk): no app_version_id / app_version_name in its envelope. */
export interface UserLogoutEvent {
  id: string;
  created_at: string;
  api_version: '1';
  type: 'user.logout';
  app_id: string;
  data: { account_id: string; user_id: string; user_email: string; installation_id: string };
  _links: { root: Link; self: Link; user: Link; installation: Link };
}

export type SimEvent =
  | UserLogoutEvent
  | InstalledEvent
  | UpdatedEvent
  | UninstalledEvent
  | CredentialsRotatedEvent
  | TrialStartedEvent
  | TrialExtendedEvent
  | TrialEndedEvent;

/** Overrides for event builders (tests). */
export interface EventOptions {
  id?: string;
  createdAt?: Date | string;
}

/** A read-only copy of an installation's simulator-side state. */
export interface SimInstallationView {
  id: string;
  appId: string;
  accountId: string;
  accountName: string;
  scopes: Scope[];
  createdAt: Date;
  state: InstallationStateName;
  reason: string | null;
  stateUpdatedAt: Date;
  pendingOperation: PendingOperation | null;
  /** When the open operation began (its event's `created_at`): Talkdesk ends it seven days later. */
  pendingSince: Date | null;
  licensedUserIds: string[];
  /** `created_by`: the installing administrator's user id (the first licensed user unless the test chose one). */
  createdBy: string | null;
  subscription: SubscriptionInfo | null;
  trial: { expiresAt: Date; endedAt: Date | null } | null;
  /** Every client ever issued to the installation, oldest first. */
  clientIds: string[];
}

export interface ClientView {
  clientId: string;
  installationId: string;
  keyId: string;
  keyAlgorithm: KeyAlgorithm;
  createdAt: Date;
  revokedAt: Date | null;
  /** End of the rotation grace period, when rotated routinely. */
  validUntil: Date | null;
  acknowledgedAt: Date | null;
  valid: boolean;
}

export interface SimulatorOptions {
  appId: string;
  host?: '127.0.0.1';
  /** 0 (default) = a free port. */
  port?: number;
  webhookSecret: string;
  /** Default target of deliver(). */
  callbackUrl?: string;
  /** Delays before the 2nd and 3rd delivery attempts; Talkdesk: 5 then 10 minutes. */
  retryDelaysMs?: [number, number];
  /** Lifetime of access tokens (default 600). */
  tokenTtlSeconds?: number;
  /** Tolerated clock difference for iat/exp/nbf of client assertions (default 10). */
  clockSkewSeconds?: number;
  /** Grace period of routinely rotated credentials (default 7 days). */
  rotationGraceSeconds?: number;
  /** Revoke the installation's clients once an uninstall is acknowledged (default false: not documented). */
  revokeOnUninstall?: boolean;
  /**
   * What an open update or uninstall shows: `pending` (default; the only open state the API reference lists) or
   * `prose`, the launch guide's words ("set to the updating status", "the uninstalled status").
   */
  openStateNames?: 'pending' | 'prose';
  /**
   * "A newly granted scope can answer 401 for some minutes" (talkdesk-api.md): for this many seconds after an
   * installation is created (at its event's `created_at` when a test dates it, never later than the event is built),
   * an API call it makes with a token holding the route's scope answers 401 `invalid_token` (default 0: its scopes
   * work at once). The token endpoint is not affected.
   */
  scopeActivationSeconds?: number;
  /**
   * The same at the token endpoint, as the SCOPES page words it ("until then token requests answer 401"): for this
   * many seconds after a client is created (an install's, a rotation's), its client-credentials token requests answer
   * 401 `invalid_client` (default 0; a sign-in's code exchange is not affected: the page speaks of added scopes). Talkdesk does not document the error code; `invalid_client` is the hardest case.
   */
  tokenScopeActivationSeconds?: number;
  /** Per-attempt timeout of deliver() (default 10 s). */
  deliveryTimeoutMs?: number;
  appVersionId?: string;
  appVersionName?: string;
}
