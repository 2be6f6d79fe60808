import { createPublicKey, type KeyObject } from 'node:crypto';
import { hexId, opaqueSecret } from './ids';
import { generateInstallationKeys, privateKeyPem, type InstallationKeys } from './keys';
import type { ClientView, InstallationStateName, SimInstallationView, KeyAlgorithm, PendingOperation, Scope } from './types';

/** How long Talkdesk keeps an install, update or uninstall open. */
export const OPERATION_LIFETIME_MS = 7 * 24 * 3_600_000;

export interface AccountRecord {
  id: string;
  name: string;
  companyName: string;
  timezone: string;
  createdAt: Date;
  userIds: string[];
}

export interface UserRecord {
  id: string;
  accountId: string;
  email: string;
  name: string;
  active: boolean;
}

/** An installation as the simulator holds it: what its view shows but the account name (read from the account). */
export type SimInstallation = Omit<SimInstallationView, 'accountName'>;

export interface ClientRecord {
  clientId: string;
  clientSecret: string;
  installationId: string;
  keys: InstallationKeys;
  publicKey: KeyObject;
  createdAt: Date;
  revokedAt: Date | null;
  validUntil: Date | null;
  acknowledgedAt: Date | null;
  /** Brought by an `app.credentials_rotated`: the only clients whose credentials can be acknowledged. */
  rotatedIn: boolean;
}

export interface TokenRecord {
  token: string;
  clientId: string;
  installationId: string;
  accountId: string;
  scopes: Scope[];
  expiresAt: number;
  revoked: boolean;
}

/** Everything the simulator knows, in memory. Mutations live here so routes and builders share them. */
export class SimState {
  readonly accounts = new Map<string, AccountRecord>();
  readonly users = new Map<string, UserRecord>();
  readonly installations = new Map<string, SimInstallation>();
  readonly clients = new Map<string, ClientRecord>();
  readonly tokens = new Map<string, TokenRecord>();
  /** `${clientId} ${jti}` -> exp (s); kept until well after exp so replays are caught. */
  private readonly seenJtis = new Map<string, number>();
  /** Insertion-ordered set of every secret issued or received. */
  private readonly secrets = new Set<string>();
  private userSeq = 0;

  /** `revokeOnUninstall`: an uninstall Talkdesk ends (acknowledged, or past its seven days) revokes its clients. */
  constructor(
    readonly appId: string,
    readonly revokeOnUninstall = false,
  ) {}

  addSecret(secret: string): void {
    if (secret.length > 0) this.secrets.add(secret);
  }

  allSecrets(): string[] {
    return [...this.secrets];
  }

  findAccountByName(name: string): AccountRecord | undefined {
    for (const a of this.accounts.values()) if (a.name === name) return a;
    return undefined;
  }

  createAccount(name: string, timezone: string): AccountRecord {
    const account: AccountRecord = {
      id: hexId(),
      name,
      companyName: `${name.charAt(0).toUpperCase()}${name.slice(1)} Inc.`,
      timezone,
      createdAt: new Date(),
      userIds: [],
    };
    this.accounts.set(account.id, account);
    return account;
  }

  createUser(account: AccountRecord): UserRecord {
    this.userSeq += 1;
    const n = this.userSeq;
    const user: UserRecord = {
      id: hexId(),
      accountId: account.id,
      email: `user${n}@${account.name}.example.com`,
      name: `User ${n}`,
      active: true,
    };
    this.users.set(user.id, user);
    account.userIds.push(user.id);
    return user;
  }

  /** `createdAt`: when Talkdesk issued it (its event's `created_at`): the scope-activation delay runs from then. */
  createClient(installationId: string, alg: KeyAlgorithm, createdAt = new Date()): ClientRecord {
    const keys = generateInstallationKeys(alg);
    const client: ClientRecord = {
      clientId: hexId(),
      clientSecret: opaqueSecret(),
      installationId,
      keys,
      publicKey: createPublicKey({ key: Buffer.from(keys.public_key, 'base64'), format: 'der', type: 'spki' }),
      createdAt,
      revokedAt: null,
      validUntil: null,
      acknowledgedAt: null,
      rotatedIn: false,
    };
    this.clients.set(client.clientId, client);
    this.addSecret(client.clientSecret);
    this.addSecret(keys.private_key);
    this.addSecret(privateKeyPem(keys.private_key));
    return client;
  }

  /** Not revoked, not past a rotation's grace; judged after the installation's seven days are applied (`expireOverdue`). */
  clientValid(client: ClientRecord, now = Date.now()): boolean {
    this.expireOverdue(client.installationId, now);
    if (client.revokedAt) return false;
    return !client.validUntil || now < client.validUntil.getTime();
  }

  revokeClient(client: ClientRecord): void {
    client.revokedAt ??= new Date();
    for (const t of this.tokens.values()) if (t.clientId === client.clientId) t.revoked = true;
  }

  issueToken(client: ClientRecord, accountId: string, scopes: Scope[], ttlSeconds: number): TokenRecord {
    const record: TokenRecord = {
      token: opaqueSecret(),
      clientId: client.clientId,
      installationId: client.installationId,
      accountId,
      scopes,
      expiresAt: Date.now() + ttlSeconds * 1000,
      revoked: false,
    };
    this.tokens.set(record.token, record);
    this.addSecret(record.token);
    return record;
  }

  /** The token when it is live: known, unexpired, not revoked, its client still valid. */
  liveToken(token: string): TokenRecord | undefined {
    const record = this.tokens.get(token);
    if (!record || record.revoked || Date.now() >= record.expiresAt) return undefined;
    const client = this.clients.get(record.clientId);
    return client && this.clientValid(client) ? record : undefined;
  }

  /** Records a jti; false when it was seen before for this client. */
  consumeJti(clientId: string, jti: string, exp: number): boolean {
    const key = `${clientId} ${jti}`;
    if (this.seenJtis.has(key)) return false;
    if (this.seenJtis.size > 100_000) this.pruneJtis();
    this.seenJtis.set(key, exp);
    return true;
  }

  private pruneJtis(): void {
    // An assertion older than an hour past its exp is refused for being expired anyway.
    const cutoff = Date.now() / 1000 - 3600;
    for (const [k, exp] of this.seenJtis) if (exp < cutoff) this.seenJtis.delete(k);
  }

  /**
   * `since`: when an operation opened now began (its event's `created_at`); now when not given. `at`: when the state
   * changed (its `updated_at`); now when not given.
   */
  setState(
    inst: SimInstallation,
    state: InstallationStateName,
    reason: string | null,
    pending: PendingOperation | null,
    since?: Date,
    at?: Date,
  ): void {
    inst.state = state;
    inst.reason = reason;
    inst.pendingOperation = pending;
    inst.stateUpdatedAt = at ?? new Date();
    inst.pendingSince = pending ? (since ?? inst.stateUpdatedAt) : null;
  }

  /**
   * Talkdesk's seven days (talkdesk-api.md, "Timing rules"): an install or update still open then has timed out,
   * and an uninstall not acknowledged is deprovisioned anyway (its clients revoked with `revokeOnUninstall`). Applied
   * wherever a client of the installation is judged (`clientValid`: a token, an assertion, a sign-in) or it or a client
   * is shown, so a late approval finds nothing pending (409), and a lapsed uninstall's client gets no token.
   */
  expireOverdue(installationId: string, now = Date.now()): void {
    const inst = this.installations.get(installationId);
    // An event time that is no time (a test's malformed created_at) never times the operation out: only a real age does.
    const since = inst?.pendingSince?.getTime();
    if (!inst?.pendingOperation || since === undefined || Number.isNaN(since) || now - since < OPERATION_LIFETIME_MS) return;
    // Dated when the seven days ran out, as Talkdesk's own change is, not at the first read after (which may be days later).
    const lapsedAt = new Date(since + OPERATION_LIFETIME_MS);
    if (inst.pendingOperation !== 'uninstall')
      return this.setState(inst, 'timeout', 'not completed within seven days', null, undefined, lapsedAt);
    this.setState(inst, 'revoked', null, null, undefined, lapsedAt);
    if (this.revokeOnUninstall) this.revokeClients(inst);
  }

  /** Every client of the installation revoked (an acknowledged uninstall with `revokeOnUninstall`). */
  revokeClients(inst: SimInstallation): void {
    for (const c of inst.clientIds) {
      const client = this.clients.get(c);
      if (client) this.revokeClient(client);
    }
  }

  viewInstallation(inst: SimInstallation): SimInstallationView {
    this.expireOverdue(inst.id);
    const account = this.accounts.get(inst.accountId);
    return {
      id: inst.id,
      appId: inst.appId,
      accountId: inst.accountId,
      accountName: account?.name ?? '',
      scopes: [...inst.scopes],
      createdAt: new Date(inst.createdAt),
      state: inst.state,
      reason: inst.reason,
      stateUpdatedAt: new Date(inst.stateUpdatedAt),
      pendingOperation: inst.pendingOperation,
      pendingSince: inst.pendingSince ? new Date(inst.pendingSince) : null,
      licensedUserIds: [...inst.licensedUserIds],
      createdBy: inst.createdBy,
      subscription: inst.subscription ? { ...inst.subscription } : null,
      trial: inst.trial ? { expiresAt: new Date(inst.trial.expiresAt), endedAt: inst.trial.endedAt } : null,
      clientIds: [...inst.clientIds],
    };
  }

  viewClient(client: ClientRecord): ClientView {
    this.expireOverdue(client.installationId);
    return {
      clientId: client.clientId,
      installationId: client.installationId,
      keyId: client.keys.key_id,
      keyAlgorithm: client.keys.key_algorithm,
      createdAt: client.createdAt,
      revokedAt: client.revokedAt,
      validUntil: client.validUntil,
      acknowledgedAt: client.acknowledgedAt,
      valid: this.clientValid(client),
    };
  }
}
