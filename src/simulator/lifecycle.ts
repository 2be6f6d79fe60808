import { credentialsOf } from './credentials';
import { envelopeHead, eventId, installedLinks, rootSelfInstallationLinks, rootSelfLinks, type EventContext } from './events';
import { hexId, isoSeconds } from './ids';
import { isKeyAlgorithm } from './keys';
import type { ClientRecord, SimInstallation, SimState } from './state';
import {
  SCOPES,
  TRIAL_ENDED_BY,
  TRIAL_ENDED_REASONS,
  type CredentialsRotatedEvent,
  type EventOptions,
  type InstallationStateName,
  type SimInstallationView,
  type InstalledEvent,
  type KeyAlgorithm,
  type PendingOperation,
  type Scope,
  type SubscriptionInfo,
  type TrialEndedBy,
  type TrialEndedEvent,
  type TrialEndedReason,
  type TrialStartedEvent,
  type TrialExtendedEvent,
  type UninstallReason,
  type UninstalledEvent,
  type UpdatedEvent,
} from './types';

export interface CreateInstallationOptions {
  /** Reusing an existing account name reinstalls into that account (same account id and users). */
  accountName?: string;
  algorithm?: KeyAlgorithm;
  /** Users licensed to the app (default 3). */
  licensedUsers?: number;
  /** Extra account users without a licence (default 2), so /users and licensed users differ. */
  unlicensedUsers?: number;
  scopes?: Scope[];
  timezone?: string;
  /** `created_by` of the installation: the installing administrator (default: the account's first user). */
  createdBy?: string;
  /** The installation id (default: a random hex id); Talkdesk's ids may hold `.` and `:`. */
  installationId?: string;
}

export interface UpdateInstallationChange {
  /** How many new users of the account to license, or the ids of users of the account it does not license now. */
  addUsers?: number | string[];
  removeUsers?: string[];
  subscription?: SubscriptionInfo;
}

export interface RotateOptions {
  /** The old sets are revoked at once (no grace). */
  compromised?: boolean;
  /**
   * Whether the event carries `compromised` (our assumption: Talkdesk documents no such field). Default: only when
   * `compromised` is given; without it the event is the documented one, the new credentials only.
   */
  flagged?: boolean;
  /** Algorithm of the new key pair (default: that of the newest client). */
  algorithm?: KeyAlgorithm;
  /**
   * Whether `data` names the installation and account as an install's does (not documented for a rotation: the service
   * routes it by `_links.installation`). Default: not, the documented event.
   */
  withIds?: boolean;
}

export const DEFAULT_UNINSTALL_REASON: UninstallReason = {
  type: 'uninstalled_by_user',
  message: 'The app was uninstalled by an administrator',
};

const nonNegativeInt = (n: number, what: string): number => {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer`);
  return n;
};

/**
 * When Talkdesk issued what an event brings (an installation, a client): the time a test dated the event at, never
 * later than now (Talkdesk cannot issue it after it is used), and now when the test did not date it (its `created_at`
 * is cut to the second) or dated it with something that is not a date (a deliberately malformed event).
 */
function issuedAt(eventOpts: EventOptions | undefined, createdAt: string): Date {
  const at = Date.parse(createdAt);
  const now = Date.now();
  return new Date(eventOpts?.createdAt === undefined || !Number.isFinite(at) ? now : Math.min(at, now));
}

/** Builds lifecycle events and applies what each means to the simulated Talkdesk. */
export class Lifecycle {
  constructor(
    private readonly state: SimState,
    private readonly ctx: EventContext,
    private readonly rotationGraceSeconds: number,
    private readonly openStateNames: 'pending' | 'prose' = 'pending',
  ) {}

  /** What Talkdesk shows while `op` waits for its state call. */
  private open(op: 'update' | 'uninstall'): InstallationStateName {
    if (this.openStateNames === 'pending') return 'pending';
    return op === 'update' ? 'updating' : 'uninstalled';
  }

  installation(id: string): SimInstallation {
    const inst = this.state.installations.get(id);
    if (!inst) throw new Error(`unknown installation ${id}`);
    return inst;
  }

  private accountName(inst: SimInstallation): string {
    return this.state.accounts.get(inst.accountId)?.name ?? '';
  }

  createInstallation(
    opts: CreateInstallationOptions = {},
    eventOpts?: EventOptions,
  ): { installation: SimInstallationView; event: InstalledEvent } {
    const alg = opts.algorithm ?? 'ES256';
    if (!isKeyAlgorithm(alg)) throw new Error(`unsupported key algorithm ${String(alg)}`);
    const scopes = opts.scopes ?? [...SCOPES];
    for (const s of scopes) if (!(SCOPES as readonly string[]).includes(s)) throw new Error(`unknown scope ${s}`);
    const licensed = nonNegativeInt(opts.licensedUsers ?? 3, 'licensedUsers');
    const unlicensed = nonNegativeInt(opts.unlicensedUsers ?? 2, 'unlicensedUsers');

    const name = opts.accountName ?? `acct${hexId().slice(0, 8)}`;
    let account = this.state.findAccountByName(name);
    if (!account) {
      account = this.state.createAccount(name, opts.timezone ?? 'Europe/Lisbon');
      for (let i = 0; i < licensed + unlicensed; i += 1) this.state.createUser(account);
    }
    while (account.userIds.length < licensed) this.state.createUser(account);

    const id = eventId(eventOpts);
    const head = envelopeHead(this.ctx, 'app.installed', id, eventOpts);
    // Installed (and its client issued) at the event's `created_at`: the scope-activation delays run from then.
    const now = issuedAt(eventOpts, head.created_at);
    const inst: SimInstallation = {
      id: opts.installationId ?? hexId(),
      appId: this.state.appId,
      accountId: account.id,
      scopes: [...new Set(scopes)],
      createdAt: now,
      state: 'installing',
      reason: null,
      stateUpdatedAt: now,
      pendingOperation: 'install',
      pendingSince: now,
      licensedUserIds: account.userIds.slice(0, licensed),
      createdBy: opts.createdBy ?? account.userIds[0] ?? null,
      subscription: null,
      trial: null,
      clientIds: [],
    };
    this.state.installations.set(inst.id, inst);
    const client = this.state.createClient(inst.id, alg, now);
    inst.clientIds.push(client.clientId);

    const event: InstalledEvent = {
      ...head,
      data: {
        installation_id: inst.id,
        account_id: account.id,
        account_name: account.name,
        ...credentialsOf(client),
      },
      _links: installedLinks(this.ctx, id, inst.id, inst.accountId),
    };
    inst.pendingSince = new Date(event.created_at); // Talkdesk's seven days run from the event, as dated
    return { installation: this.state.viewInstallation(inst), event };
  }

  /** Users and/or subscription change: one app.updated event; the installation waits for an acknowledgement. */
  updateInstallation(installationId: string, change: UpdateInstallationChange, eventOpts?: EventOptions): UpdatedEvent {
    const inst = this.installation(installationId);
    if (inst.state === 'revoked') throw new Error(`installation ${installationId} is uninstalled`);
    const account = this.state.accounts.get(inst.accountId);
    if (!account) throw new Error(`installation ${installationId} has no account`);
    // A licence given back (a user removed earlier) or given to a user of the account never licensed, or new users.
    const existing = Array.isArray(change.addUsers) ? change.addUsers : [];
    const add = Array.isArray(change.addUsers) ? existing.length : nonNegativeInt(change.addUsers ?? 0, 'add');
    for (const u of existing) {
      if (this.state.users.get(u)?.accountId !== account.id) throw new Error(`user ${u} is not a user of account ${account.id}`);
      if (inst.licensedUserIds.includes(u)) throw new Error(`user ${u} is licensed to installation ${installationId} already`);
    }
    const remove = change.removeUsers ?? [];
    for (const u of remove) {
      if (!inst.licensedUserIds.includes(u)) throw new Error(`user ${u} is not licensed to installation ${installationId}`);
      if (existing.includes(u)) throw new Error(`user ${u} is both added and removed`);
    }
    if (add === 0 && remove.length === 0 && !change.subscription) throw new Error('an update needs users or a subscription');
    // Every check before any change: a call that throws leaves the installation as it was.
    if (change.subscription) nonNegativeInt(change.subscription.licenses, 'licenses');

    const id = eventId(eventOpts);
    const event: UpdatedEvent = {
      ...envelopeHead(this.ctx, 'app.updated', id, eventOpts),
      data: { installation_id: inst.id, account_id: account.id, account_name: account.name },
      _links: rootSelfLinks(this.ctx, id),
    };
    if (add > 0 || remove.length > 0) {
      const adding: string[] = [...existing];
      if (existing.length === 0) for (let i = 0; i < add; i += 1) adding.push(this.state.createUser(account).id);
      inst.licensedUserIds = inst.licensedUserIds.filter((u) => !remove.includes(u)).concat(adding);
      event.data.users = { adding, removing: [...remove] };
    }
    if (change.subscription) {
      const { name, licenses } = change.subscription;
      // The previous plan, when any, goes in `removing` (our reading of the docs' "...").
      event.data.subscription = inst.subscription
        ? { adding: { name, licenses }, removing: { ...inst.subscription } }
        : { adding: { name, licenses } };
      inst.subscription = { name, licenses };
    }
    this.state.setState(inst, this.open('update'), null, 'update', new Date(event.created_at));
    return event;
  }

  rotateCredentials(installationId: string, opts: RotateOptions = {}, eventOpts?: EventOptions): CredentialsRotatedEvent {
    const inst = this.installation(installationId);
    const account = this.state.accounts.get(inst.accountId);
    const previous = inst.clientIds.map((c) => this.state.clients.get(c)).filter((c): c is ClientRecord => c !== undefined);
    const alg = opts.algorithm ?? previous.at(-1)?.keys.key_algorithm ?? 'ES256';
    const compromised = opts.compromised ?? false;
    const id = eventId(eventOpts);
    const head = envelopeHead(this.ctx, 'app.credentials_rotated', id, eventOpts);
    // Talkdesk's seven days run from the rotation (its `created_at`), not from when the event reaches anyone.
    const rotatedAt = Date.parse(head.created_at);
    const graceEnd = new Date((Number.isFinite(rotatedAt) ? rotatedAt : Date.now()) + this.rotationGraceSeconds * 1000);
    for (const old of previous) {
      if (compromised) this.state.revokeClient(old);
      else if (!old.validUntil || old.validUntil > graceEnd) old.validUntil = graceEnd;
    }
    const client = this.state.createClient(inst.id, alg, issuedAt(eventOpts, head.created_at));
    client.rotatedIn = true;
    inst.clientIds.push(client.clientId);

    return {
      ...head,
      data: {
        ...(opts.withIds ? { installation_id: inst.id, account_id: inst.accountId, account_name: account?.name ?? '' } : {}),
        ...((opts.flagged ?? opts.compromised !== undefined) ? { compromised } : {}),
        ...credentialsOf(client),
      },
      _links: installedLinks(this.ctx, id, inst.id, inst.accountId),
    };
  }

  uninstall(installationId: string, reason: UninstallReason = DEFAULT_UNINSTALL_REASON, eventOpts?: EventOptions): UninstalledEvent {
    const inst = this.installation(installationId);
    const id = eventId(eventOpts);
    const head = envelopeHead(this.ctx, 'app.uninstalled', id, eventOpts);
    this.state.setState(inst, this.open('uninstall'), null, 'uninstall', new Date(head.created_at));
    return {
      ...head,
      data: {
        installation_id: inst.id,
        account_id: inst.accountId,
        account_name: this.accountName(inst),
        reason: { type: reason.type, message: reason.message },
      },
      _links: rootSelfInstallationLinks(this.ctx, id, inst.id),
    };
  }

  startTrial(installationId: string, expiresAt: Date | string, eventOpts?: EventOptions): TrialStartedEvent {
    const inst = this.installation(installationId);
    const expires = new Date(expiresAt);
    if (Number.isNaN(expires.getTime())) throw new Error('expiresAt is not a date');
    inst.trial = { expiresAt: expires, endedAt: null };
    const id = eventId(eventOpts);
    return {
      ...envelopeHead(this.ctx, 'app.trial_started', id, eventOpts),
      data: { installation_id: inst.id, account_id: inst.accountId, expires_at: isoSeconds(expires) },
      _links: rootSelfInstallationLinks(this.ctx, id, inst.id),
    };
  }

  extendTrial(installationId: string, expiresAt: Date | string, eventOpts?: EventOptions): TrialExtendedEvent {
    const inst = this.installation(installationId);
    if (!inst.trial) throw new Error(`installation ${installationId} has no trial`);
    const expires = new Date(expiresAt);
    if (Number.isNaN(expires.getTime())) throw new Error('expiresAt is not a date');
    inst.trial.expiresAt = expires;
    const id = eventId(eventOpts);
    return {
      ...envelopeHead(this.ctx, 'app.trial_extended', id, eventOpts),
      data: { installation_id: inst.id, account_id: inst.accountId, expires_at: isoSeconds(expires) },
      _links: rootSelfInstallationLinks(this.ctx, id, inst.id),
    };
  }

  endTrial(
    installationId: string,
    end: { reason: TrialEndedReason; by: TrialEndedBy; endedAt?: Date },
    eventOpts?: EventOptions,
  ): TrialEndedEvent {
    const inst = this.installation(installationId);
    if (!inst.trial) throw new Error(`installation ${installationId} has no trial`);
    // What Talkdesk sends: anything else would be an event the callback refuses (400).
    if (!TRIAL_ENDED_REASONS.includes(end.reason)) throw new Error(`ended reason must be one of ${TRIAL_ENDED_REASONS.join(', ')}`);
    if (!TRIAL_ENDED_BY.includes(end.by)) throw new Error(`ended by must be one of ${TRIAL_ENDED_BY.join(', ')}`);
    const endedAt = end.endedAt ?? new Date();
    inst.trial.endedAt = endedAt;
    const id = eventId(eventOpts);
    return {
      ...envelopeHead(this.ctx, 'app.trial_ended', id, eventOpts),
      data: {
        installation_id: inst.id,
        account_id: inst.accountId,
        ended_at: isoSeconds(endedAt),
        expires_at: isoSeconds(inst.trial.expiresAt),
        ended_reason: end.reason,
        ended_by: end.by,
      },
      _links: rootSelfInstallationLinks(this.ctx, id, inst.id),
    };
  }

  /** Drift for reconciliation tests: Talkdesk's view changes without any event. */
  setInstallationState(installationId: string, state: InstallationStateName, reason: string | null = null): void {
    const inst = this.installation(installationId);
    let pending: PendingOperation | null = null;
    if (state === 'installing') pending = 'install';
    else if (state === 'pending') pending = inst.pendingOperation ?? 'update';
    else if (state === 'updating') pending = 'update';
    else if (state === 'uninstalled') pending = 'uninstall';
    this.state.setState(inst, state, reason, pending);
  }
}
