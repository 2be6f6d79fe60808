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
    const settingsRestored =
      existing?.installationId === input.installationId && existing.status === 'provisioned'
        ? existing.settingsRestored
        : settings !== null;
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
    return users.length;
  }

  async deactivateUsers(accountId: string, talkdeskUserIds?: string[]): Promise<number> {
    const filter = talkdeskUserIds ? { accountId, talkdeskUserId: { $in: talkdeskUserIds } } : { accountId };
    const res = await this.users.updateMany(filter, { $set: { active: false, updatedAt: new Date() } });
    return res.modifiedCount;
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
