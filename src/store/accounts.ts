import type { Collection } from 'mongodb';
import { COLLECTIONS, type Database } from './db';

export type AccountStatus = 'provisioned' | 'disabled';

/** The partner-side account for one Talkdesk account. */
export interface AccountRecord {
  _id: string; // Talkdesk account id
  installationId: string;
  appId: string;
  name: string;
  companyName?: string;
  timezone?: string;
  status: AccountStatus;
  subscription?: Record<string, { name?: string; licenses?: number }>;
  trial?: { startedAt?: string; expiresAt?: string; endedAt?: string; endedReason?: string; endedBy?: string };
  settingsRestored: boolean;
  /** Talkdesk user id of the installing administrator (`created_by` of the installation). */
  createdBy?: string;
  /** The partner's own id for the account, from the HTTP provisioner's answer. */
  partnerAccountId?: string;
  /**
   * The active licensed users of the account's current installation, kept by every write of the
   * mappings below, so that the app page counts them without a query that reads every mapping.
   * Absent on accounts provisioned before it existed: those are counted from the mappings.
   */
  licensedUsers?: { installationId?: string; ids: string[] };
  createdAt: Date;
  updatedAt: Date;
  disabledAt?: Date;
}

export interface UserMappingRecord {
  _id: string; // `${accountId}:${talkdeskUserId}`
  accountId: string;
  installationId: string;
  talkdeskUserId: string;
  email?: string;
  name?: string;
  partnerUserId: string;
  /** The installing administrator is `admin`, every other licensed user `user`. */
  role: 'admin' | 'user';
  active: boolean;
  updatedAt: Date;
}

/** Settings the partner keeps for an account across uninstall and reinstall. */
export interface SettingsRecord {
  _id: string; // Talkdesk account id
  settings: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export const DEFAULT_SETTINGS = { sampleDashboards: true, tutorialShown: false } as const;

export interface TalkdeskUserFacts {
  id: string;
  email?: string;
  name?: string;
  role?: 'admin' | 'user';
}

export class AccountStore {
  readonly accounts: Collection<AccountRecord>;
  readonly users: Collection<UserMappingRecord>;
  readonly settings: Collection<SettingsRecord>;
  constructor(db: Database) {
    this.accounts = db.collection<AccountRecord>(COLLECTIONS.accounts);
    this.users = db.collection<UserMappingRecord>(COLLECTIONS.userMappings);
    this.settings = db.collection<SettingsRecord>(COLLECTIONS.settings);
  }

  async ensureIndexes(): Promise<void> {
    await this.accounts.createIndex({ installationId: 1 });
    await this.users.createIndex({ accountId: 1, active: 1 });
    await this.users.createIndex({ installationId: 1 });
  }

  /**
   * Creates or refreshes the account, keyed by the Talkdesk account id so a retried
   * activity never makes a second one. Returns whether earlier settings were found.
   */
  async upsertAccount(input: {
    accountId: string;
    installationId: string;
    appId: string;
    name: string;
    companyName?: string;
    timezone?: string;
    createdBy?: string;
  }): Promise<{ settingsRestored: boolean }> {
    const now = new Date();
    const settings = await this.settings.findOneAndUpdate(
      { _id: input.accountId },
      { $setOnInsert: { settings: { ...DEFAULT_SETTINGS }, createdAt: now, updatedAt: now } },
      { upsert: true, returnDocument: 'before' },
    );
    const existing = await this.accounts.findOne({ _id: input.accountId });
    // A reinstall finds settings written by an earlier installation of this account.
    const sameInstall = existing?.installationId === input.installationId && existing.status === 'provisioned';
    const settingsRestored = sameInstall ? existing.settingsRestored : settings !== null;
    await this.accounts.updateOne(
      { _id: input.accountId },
      {
        $set: {
          installationId: input.installationId,
          appId: input.appId,
          name: input.name,
          companyName: input.companyName,
          timezone: input.timezone,
          ...(input.createdBy ? { createdBy: input.createdBy } : {}),
          status: 'provisioned',
          settingsRestored,
          // A new installation starts its licensed users afresh; a retry keeps them.
          ...(sameInstall ? {} : { licensedUsers: { installationId: input.installationId, ids: [] } }),
          updatedAt: now,
        },
        $setOnInsert: { createdAt: now },
        $unset: { disabledAt: '' },
      },
      { upsert: true },
    );
    return { settingsRestored };
  }

  getAccount(accountId: string): Promise<AccountRecord | null> {
    return this.accounts.findOne({ _id: accountId });
  }

  findByInstallation(installationId: string): Promise<AccountRecord | null> {
    return this.accounts.findOne({ installationId });
  }

  /** Idempotent upsert of user mappings; the partner user id is derived, so retries agree. */
  async upsertUsers(accountId: string, installationId: string, users: TalkdeskUserFacts[]): Promise<number> {
    const now = new Date();
    for (const u of users) {
      await this.users.updateOne(
        { _id: `${accountId}:${u.id}` },
        {
          $set: {
            accountId,
            installationId,
            talkdeskUserId: u.id,
            email: u.email,
            name: u.name,
            role: u.role ?? 'user',
            active: true,
            updatedAt: now,
          },
          $setOnInsert: { partnerUserId: `pu_${accountId}_${u.id}` },
        },
        { upsert: true },
      );
    }
    if (users.length)
      await this.accounts.updateOne({ _id: accountId }, { $addToSet: { 'licensedUsers.ids': { $each: users.map((u) => u.id) } } });
    return users.length;
  }

  async deactivateUsers(accountId: string, talkdeskUserIds?: string[]): Promise<number> {
    const filter = talkdeskUserIds ? { accountId, talkdeskUserId: { $in: talkdeskUserIds } } : { accountId };
    const res = await this.users.updateMany(filter, { $set: { active: false, updatedAt: new Date() } });
    await this.accounts.updateOne(
      { _id: accountId },
      talkdeskUserIds ? { $pullAll: { 'licensedUsers.ids': talkdeskUserIds } } : { $set: { 'licensedUsers.ids': [] } },
    );
    return res.modifiedCount;
  }

  /** Undo of a deactivation (a reverted update). */
  async reactivateUsers(accountId: string, talkdeskUserIds: string[]): Promise<void> {
    if (!talkdeskUserIds.length) return;
    await this.users.updateMany({ accountId, talkdeskUserId: { $in: talkdeskUserIds } }, { $set: { active: true, updatedAt: new Date() } });
    await this.accounts.updateOne({ _id: accountId }, { $addToSet: { 'licensedUsers.ids': { $each: talkdeskUserIds } } });
  }

  /**
   * Active licensed users of an installation of the account: from the list the account keeps
   * (no store command) when it is this installation's, else counted from the mappings.
   */
  async licensedUserCount(account: AccountRecord | null, accountId: string, installationId: string): Promise<number> {
    const kept = account?.licensedUsers;
    if (kept?.installationId === installationId) return kept.ids.length;
    return this.users.countDocuments({ accountId, installationId, active: true });
  }

  listUsers(accountId: string): Promise<UserMappingRecord[]> {
    return this.users.find({ accountId }).sort({ _id: 1 }).toArray();
  }

  async disableAccount(accountId: string): Promise<void> {
    const now = new Date();
    await this.accounts.updateOne({ _id: accountId }, { $set: { status: 'disabled', disabledAt: now, updatedAt: now } });
  }

  /** Undo of a provisioning that never completed: the account disappears, its settings stay. */
  async removeProvisioning(accountId: string, installationId: string): Promise<void> {
    await this.users.deleteMany({ accountId, installationId });
    await this.accounts.deleteOne({ _id: accountId, installationId });
  }

  async recordSubscription(accountId: string, subscription: Record<string, { name?: string; licenses?: number }>): Promise<void> {
    await this.accounts.updateOne({ _id: accountId }, { $set: { subscription, updatedAt: new Date() } });
  }

  async recordTrial(accountId: string, trial: AccountRecord['trial']): Promise<void> {
    await this.accounts.updateOne({ _id: accountId }, { $set: { trial, updatedAt: new Date() } });
  }

  async recordPartnerAccountId(accountId: string, partnerAccountId: string): Promise<void> {
    await this.accounts.updateOne({ _id: accountId }, { $set: { partnerAccountId, updatedAt: new Date() } });
  }

  async updateSettings(accountId: string, settings: Record<string, unknown>): Promise<void> {
    await this.settings.updateOne({ _id: accountId }, { $set: { settings, updatedAt: new Date() } });
  }

  getSettings(accountId: string): Promise<SettingsRecord | null> {
    return this.settings.findOne({ _id: accountId });
  }
}
