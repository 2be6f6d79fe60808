/**
 * The partner's side of the lifecycle: what the activities call to create, change
 * and remove the customer's account in the partner's product. The built-in
 * implementation writes MongoDB (`mongodb.ts`); `http.ts` calls the partner's own
 * backend (the hook protocol of docs/partner.md); a partner may also pass its own
 * object to `createAppWorker({ partner })`.
 *
 * THE CONTRACT every implementation keeps (the conformance suite checks it):
 * 1. Idempotent. Each call carries `key`: derived from the Talkdesk installation,
 *    the Talkdesk event and the operation, identical on every retry of that call and
 *    different for every other call. A call repeated with the same key changes
 *    nothing more (one account, one set of starter content, never duplicates).
 *    Everything is also keyed by Talkdesk ids (`accountId`, `installationId`,
 *    Talkdesk user ids), so a retry after a crash finds what the first try wrote.
 * 2. Cancellable. `signal` aborts when an uninstall interrupts the call: the
 *    implementation checks it before it writes and stops (throws) when aborted.
 * 3. Undo tolerates a half-finished provision: any part of it may be missing, and
 *    undo removes only what this installation (`installationId`) provisioned.
 * 4. Failures are typed: `PartnerUnavailableError` (retryable: the workflow retries
 *    with backoff until the phase's deadline) or `PartnerRefusedError` (final, with
 *    a short reason that may be shown to Talkdesk in a rejection). Anything else
 *    thrown is treated as retryable.
 * 5. No Talkdesk credential reaches it: the activities read Talkdesk (account,
 *    licensed users) and hand over facts only.
 * 6. An undo or revert may overtake the call it undoes: a provision or update our
 *    timeout gave up on may still be running at the partner when the undo or revert
 *    arrives. Their `undoes` is that call's key: an implementation whose calls can
 *    outlive the activity (the HTTP partner's backend) remembers it, and a provision
 *    or update with that key (or a page of that provision) still in flight or
 *    arriving later takes no effect. The built-in one writes in the activity itself,
 *    checking `signal` before each write (contract 2).
 * 7. Trial records are sent in the order the workflow took the events, each with the
 *    whole trial as it stands; an attempt that outlived its timeout sends nothing. One
 *    whose own writes can stall (the built-in one) compares `attemptScheduledAt`.
 */

/** The Talkdesk facts of a user, as the partner receives them. */
export interface PartnerUser {
  id: string;
  email?: string;
  name?: string;
  /** `admin` for the installing administrator (`created_by`), `user` for everyone else. */
  role: 'admin' | 'user';
}

export interface AccountFacts {
  accountId: string;
  installationId: string;
  appId: string;
  name: string;
  companyName?: string;
  timezone?: string;
}

/** What every call carries besides its own data. */
export interface CallContext {
  /** Same on every retry of this call, different for every other call (contract 1). */
  key: string;
  /** The Talkdesk event the call stems from (`created_at`), ISO-8601. */
  occurredAt: string;
  /** Aborted when the call must stop before writing (contract 2). */
  signal: AbortSignal;
  /** Called between long steps (pages) so the activity can report progress. */
  progress?: (detail: string) => void;
  /**
   * Undo and revert only: the key of the call this one undoes (the `account.provision`,
   * the `account.update`), from the same event; it may still be in flight (contract 5).
   */
  undoes?: string;
  /**
   * When this attempt of the activity was scheduled (Temporal's clock, Unix ms): a later call's attempt is
   * always scheduled later than any attempt of an earlier call, so a record that must not be overtaken by an
   * earlier call's late attempt (the trial) compares it.
   */
  attemptScheduledAt?: number;
  /** A provision's or update's event as we received it (ISO-8601, our clock): a sign-in weighs a removal marked since against it. */
  receivedAt?: string;
}

export interface ProvisionRequest {
  account: AccountFacts;
  /** Every licensed user; an implementation may page them (the HTTP one does). */
  users: PartnerUser[];
  /** Talkdesk user id of the installing administrator, when Talkdesk gave it. */
  createdBy?: string;
  /** Users per request as the provision's first attempt split them (its `pageSize`): every attempt sends the same pages. */
  pageSize?: number;
}

export interface ProvisionOutcome {
  /** Settings of an earlier installation of this account were found and kept. */
  settingsRestored: boolean;
  /** The partner's own id for the account, kept on the account record. */
  partnerAccountId?: string;
}

export interface UpdateRequest {
  accountId: string;
  installationId: string;
  usersAdded: PartnerUser[];
  usersRemoved: string[];
  subscription?: Record<string, unknown>;
}

export interface RevertRequest {
  accountId: string;
  installationId: string;
  /** Users the update added: remove them again. */
  usersAdded: string[];
  /** Users the update deactivated: reactivate them. */
  usersDeactivated: string[];
  /** The subscription before the update ({} when there was none). */
  previousSubscription: Record<string, unknown>;
}

export interface AccountRef {
  installationId: string;
  /** Unknown when the install never got as far as reading the account. */
  accountId?: string;
}

export type TrialEventType = 'app.trial_started' | 'app.trial_ended' | 'app.trial_extended';

export interface TrialRequest extends AccountRef {
  /** The trial event's type; an implementation accepts types it does not know. */
  type: TrialEventType | (string & {});
  /** The trial as it stands after the event (what the workflow records). */
  trial: { startedAt?: string; expiresAt?: string; endedAt?: string; endedReason?: string; endedBy?: string };
  /** The event's own non-secret fields, as Talkdesk sent them. */
  fields?: Record<string, unknown>;
}

/** A Talkdesk `user.logout`, after the service ended the user's sessions (the web's `onUserLogout` receives the same). */
export interface UserLogoutRequest {
  installationId: string;
  accountId: string;
  talkdeskUserId: string;
  email?: string;
  occurredAt: string;
  /**
   * When the service took the user as logged out: the earlier of `occurredAt` and the event's first arrival here (a
   * Talkdesk clock ahead of ours must not end sessions opened after the logout). Absent in forwards an older version kept.
   */
  loggedOutAt?: string;
  eventId: string;
}

export interface PartnerProvisioner {
  /** For logs and the docs: `mongodb`, `http`, or the partner's own name. */
  readonly kind: string;
  /**
   * True only for the built-in MongoDB implementation, which itself writes the
   * service's account record and user mappings (`accounts`, `user_mappings`).
   * Otherwise the activities keep those records beside the partner's calls: single
   * sign-on needs the user mappings in every mode.
   */
  readonly keepsServiceRecords?: boolean;
  /**
   * Users per request when it splits a provision into pages, each under its own key: the activity keeps the first
   * attempt's and gives it back on every retry (`ProvisionRequest.pageSize`), so that a setting changed meanwhile never
   * sends other users under a key already taken.
   */
  readonly pageSize?: number;
  provision(req: ProvisionRequest, ctx: CallContext): Promise<ProvisionOutcome>;
  update(req: UpdateRequest, ctx: CallContext): Promise<void>;
  revertUpdate(req: RevertRequest, ctx: CallContext): Promise<void>;
  undoProvision(req: AccountRef, ctx: CallContext): Promise<void>;
  /** Uninstall: the account is disabled; settings and starter content stay for a reinstall. */
  deprovision(req: AccountRef, ctx: CallContext): Promise<void>;
  trial(req: TrialRequest, ctx: CallContext): Promise<void>;
  /** A Talkdesk user signed out (`user.logout`): the partner may end its own sessions. */
  userLogout?(req: UserLogoutRequest, ctx: CallContext): Promise<void>;
  /**
   * Calls the implementation could not deliver and kept for later (the HTTP undo):
   * reconciliation calls this on every pass. Returns how many are still outstanding.
   */
  retryOutstanding?(installationId: string): Promise<number>;
}

/** Stops before writing when the call was cancelled (contract 2). */
export function throwIfCancelled(ctx: CallContext): void {
  if (ctx.signal.aborted) throw new PartnerCancelledError();
}

export class PartnerCancelledError extends Error {
  constructor() {
    super('partner call cancelled before writing');
    this.name = 'PartnerCancelledError';
  }
}
