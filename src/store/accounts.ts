import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { COLLECTIONS, type Database } from './db';
import type { AccountRecord, AccountUsersRecord, SettingsRecord, TalkdeskUserFacts, UserMappingRecord } from './account-records';

export type * from './account-records';

const MAPPING_WRITE = { updatedAt: 1, installationId: 1 } as const;

const mappingId = (accountId: string, talkdeskUserId: string) => `${accountId}:${talkdeskUserId}`;
/** Mapping writes sent in one command: a few hundred users' facts stay far below MongoDB's 16 MiB message. */
const MAPPING_BATCH = 500;

export const DEFAULT_SETTINGS = { sampleDashboards: true, tutorialShown: false } as const;

/** Whether another installation whose install event is newer than `eventAt` has the account provisioned. */
const heldByNewer = (existing: AccountRecord | null, installationId: string, eventAt: Date | undefined): boolean =>
  existing?.status === 'provisioned' &&
  existing.installationId !== installationId &&
  existing.provisionEventAt !== undefined &&
  eventAt !== undefined &&
  existing.provisionEventAt > eventAt;

export class AccountStore {
  readonly accounts: Collection<AccountRecord>;
  readonly users: Collection<UserMappingRecord>;
  readonly settings: Collection<SettingsRecord>;
  private readonly userIndex: Collection<AccountUsersRecord>;
  /** Read only: an installation's record names its account. */
  private readonly installations: Collection<{ _id: string; accountId?: string }>;
  constructor(db: Database) {
    this.accounts = db.collection<AccountRecord>(COLLECTIONS.accounts);
    this.users = db.collection<UserMappingRecord>(COLLECTIONS.userMappings);
    this.settings = db.collection<SettingsRecord>(COLLECTIONS.settings);
    this.userIndex = db.collection<AccountUsersRecord>(COLLECTIONS.accountUsers);
    this.installations = db.collection<{ _id: string; accountId?: string }>(COLLECTIONS.installations);
  }

  async ensureIndexes(): Promise<void> {
    await this.accounts.createIndex({ installationId: 1 });
    await this.users.createIndex({ accountId: 1, active: 1 });
    await this.users.createIndex({ installationId: 1 });
  }

  /** Whether a newer installation of the account has provisioned it: an older one's provision is refused (upsertAccount). */
  async newerHolds(accountId: string, installationId: string, eventAt: Date | undefined): Promise<boolean> {
    return eventAt !== undefined && heldByNewer(await this.accounts.findOne({ _id: accountId }), installationId, eventAt);
  }

  /** Creates or refreshes the account, keyed by the Talkdesk account id (a retry never makes a second); earlier settings found? */
  async upsertAccount(input: {
    accountId: string;
    installationId: string;
    appId: string;
    name: string;
    companyName?: string;
    timezone?: string;
    createdBy?: string;
    /** The provision call's key: settings this very provision created (an earlier attempt of it) are not restored ones. */
    provisionKey?: string;
    /** The install event's `created_at` (provisionEventAt). */
    eventAt?: Date;
  }): Promise<{ settingsRestored: boolean; newerHolds?: true }> {
    const now = new Date();
    const settings = await this.settings.findOneAndUpdate(
      { _id: input.accountId },
      {
        $setOnInsert: {
          settings: { ...DEFAULT_SETTINGS },
          createdAt: now,
          updatedAt: now,
          ...(input.provisionKey ? { createdByProvision: input.provisionKey } : {}),
        },
      },
      { upsert: true, returnDocument: 'before' },
    );
    const existing = await this.accounts.findOne({ _id: input.accountId });
    // A reinstall finds settings an earlier installation wrote. A retry of this provision keeps what it wrote; another install over
    // the account still provisioned (the uninstall before it not applied yet, or never: a same-id earlier life's) starts afresh.
    const provisioned = existing?.status === 'provisioned';
    // An earlier installation's provision retried after a newer installation of the account provisioned it (the earlier
    // one's uninstall delivered late): taking the account back would deactivate the newer one's users, and that
    // installation's undo would then delete the account. Nothing written (but the settings' insert-only upsert above).
    if (heldByNewer(existing, input.installationId, input.eventAt)) return { settingsRestored: false, newerHolds: true };
    const live = provisioned && existing.installationId === input.installationId;
    const sameInstall = live && (input.provisionKey ?? existing.provisionedBy) === (existing.provisionedBy ?? input.provisionKey);
    if (provisioned && !sameInstall) await this.deactivateUsers(input.accountId); // the users that installation licensed
    // Settings an earlier attempt of this provision created (it died before the account) are not restored ones.
    const ownSettings = input.provisionKey !== undefined && settings?.createdByProvision === input.provisionKey;
    const settingsRestored = sameInstall ? existing.settingsRestored : settings !== null && !ownSettings;
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
          ...(input.provisionKey ? { provisionedBy: input.provisionKey } : {}),
          ...(input.eventAt ? { provisionEventAt: input.eventAt } : {}),
          settingsRestored,
          // A new installation starts its licensed users afresh; a retry keeps them.
          ...(sameInstall ? {} : { licensedUsers: { installationId: input.installationId, ids: [] } }),
          updatedAt: now,
        },
        $setOnInsert: { createdAt: now },
        // A reinstall starts without the earlier installation's plan: its own update and trial events record it.
        // Nor an earlier installation's admin: one this installation does not name would be made admin by its updates.
        // Nor the partner's account id an earlier installation's provision returned: signed into this one's hand-offs, it
        // would name that life's tenant (kept only when this provision returns one: recordPartnerAccountId, after this).
        $unset: {
          disabledAt: '',
          ...(input.eventAt || sameInstall ? {} : { provisionEventAt: '' }),
          ...(sameInstall ? {} : { subscription: '', trial: '', trialAttemptAt: '', partnerAccountId: '' }),
          ...(sameInstall || input.createdBy ? {} : { createdBy: '' }),
        },
      },
      { upsert: true },
    );
    // A new account starts with an empty user index; one an older version made gets it in upsertUsers.
    if (!existing)
      await this.userIndex.updateOne({ _id: input.accountId }, { $setOnInsert: { userIds: [], updatedAt: now } }, { upsert: true });
    return { settingsRestored };
  }

  getAccount(accountId: string): Promise<AccountRecord | null> {
    return this.accounts.findOne({ _id: accountId });
  }

  /**
   * The account this installation provisioned: named by the installation's record (both read by
   * `_id`); read by installation only when the record names none (an install undone before it was recorded).
   */
  async findByInstallation(installationId: string): Promise<AccountRecord | null> {
    const inst = await this.installations.findOne({ _id: installationId }, { projection: { accountId: 1 } });
    if (!inst?.accountId) return this.accounts.findOne({ installationId });
    const account = await this.getAccount(inst.accountId);
    return account?.installationId === installationId ? account : null;
  }

  /** The account's mapped user ids, from its index; undefined when it has none (an older version's account). */
  private async indexedUserIds(accountId: string): Promise<string[] | undefined> {
    const doc = await this.userIndex.findOne({ _id: accountId });
    // FerretDB may store the empty list of a new index as no field at all.
    return doc ? (doc.userIds ?? []) : undefined;
  }

  /** The account's mapped user ids: from its index, or (an older version's account) read by account. */
  private async userIds(accountId: string): Promise<string[]> {
    const indexed = await this.indexedUserIds(accountId);
    if (indexed) return indexed;
    const found = await this.users.find({ accountId }, { projection: { talkdeskUserId: 1 } }).toArray();
    return found.map((u) => u.talkdeskUserId);
  }

  /**
   * Idempotent upsert of user mappings (the partner user id is derived, so retries agree). `asOf`: when a sign-in's licence
   * refresh read them (a removal marked meanwhile is newer); `facts`: the applied event's receipt and `created_at`.
   */
  async upsertUsers(
    accountId: string,
    installationId: string,
    users: TalkdeskUserFacts[],
    asOf?: Date,
    facts: { at?: Date; eventAt?: Date } = {},
  ): Promise<number> {
    const now = asOf ?? new Date();
    // Indexed first (an entry without a mapping is skipped); an older version's account gets its index here, complete.
    const indexed = await this.indexedUserIds(accountId);
    const ids = users.map((u) => u.id).filter((id) => !indexed?.includes(id));
    if (!indexed) ids.push(...(await this.userIds(accountId)));
    if (ids.length || !indexed) {
      await this.userIndex.updateOne(
        { _id: accountId },
        { $addToSet: { userIds: { $each: [...new Set(ids)] } }, $set: { updatedAt: now } },
        { upsert: true },
      );
    }
    const written: string[] = [];
    // One command per batch of mappings, not one per user (thousands at an install); each statement still by {_id}.
    const writes: AnyBulkWriteOperation<UserMappingRecord>[] = [];
    for (const u of users) {
      // Facts read as of `asOf` never overwrite a later write (a removal the workflow applied while they were read).
      const later = asOf ? await this.users.findOne({ _id: mappingId(accountId, u.id) }, { projection: MAPPING_WRITE }) : null;
      if (asOf && later && later.updatedAt > asOf) continue;
      written.push(u.id);
      const role = u.role ?? (later && later.installationId !== installationId ? ('user' as const) : undefined);
      writes.push({
        updateOne: {
          filter: { _id: mappingId(accountId, u.id) },
          update: {
            $set: {
              accountId,
              installationId,
              talkdeskUserId: u.id,
              email: u.email,
              name: u.name,
              ...(role ? { role } : {}), // none given (no caller in the service does): kept, but an earlier installation's admin is a user
              active: true,
              updatedAt: now,
              factsAt: facts.at ?? now,
              ...(facts.eventAt ? { factsEventAt: facts.eventAt } : {}),
            },
            ...(facts.eventAt ? {} : { $unset: { factsEventAt: '' as const } }),
            $setOnInsert: { partnerUserId: `pu_${accountId}_${u.id}`, ...(role ? {} : { role: 'user' as const }) },
          },
          upsert: true,
        },
      });
      // Read-then-write as of `asOf`: each written at once after its read, the window kept as short as it was.
      if (asOf || writes.length === MAPPING_BATCH) await this.users.bulkWrite(writes.splice(0));
    }
    if (writes.length) await this.users.bulkWrite(writes);
    if (written.length) await this.accounts.updateOne({ _id: accountId }, { $addToSet: { 'licensedUsers.ids': { $each: written } } });
    return written.length;
  }

  /**
   * Sets `active` on the named mappings (all of the account's without names), each by `_id`; how many changed. Their
   * facts' times stay: a deactivated mapping signs no one in, and a reactivation (a reverted update) restores the facts
   * the mapping held before, which did not reach us now; written as of now, they would outdate a removal marked
   * meanwhile (launch's `removal_pending`). A mapping older than `factsAt` gets its last write's time as its facts'.
   */
  private async setActive(accountId: string, active: boolean, talkdeskUserIds?: string[], onlyOf?: string): Promise<number> {
    let changed = 0;
    const now = new Date();
    for (const id of talkdeskUserIds ?? (await this.userIds(accountId))) {
      const _id = mappingId(accountId, id);
      // Read only to reactivate (a revert, rare), or for an uninstall (`onlyOf`): another installation of the account
      // may have written the mapping since (a reinstall under a new id provisioning meanwhile), and it is that one's.
      const before = active || onlyOf !== undefined ? await this.users.findOne({ _id }) : null;
      if (onlyOf !== undefined && before?.installationId !== onlyOf) continue;
      const facts = before && before.factsAt === undefined ? { factsAt: before.updatedAt } : {};
      const res = await this.users.updateOne({ _id }, { $set: { active, updatedAt: now, ...facts } });
      changed += res.modifiedCount;
    }
    return changed;
  }

  /** The account's list first, then the mappings: the list never names an inactive mapping (the app page trusts it). */
  async deactivateUsers(accountId: string, talkdeskUserIds?: string[]): Promise<number> {
    await this.accounts.updateOne(
      { _id: accountId },
      talkdeskUserIds ? { $pullAll: { 'licensedUsers.ids': talkdeskUserIds } } : { $set: { 'licensedUsers.ids': [] } },
    );
    return this.setActive(accountId, false, talkdeskUserIds);
  }

  /** An update that is reverted: users it deactivated are active again. */
  async reactivateUsers(accountId: string, talkdeskUserIds: string[]): Promise<number> {
    if (!talkdeskUserIds.length) return 0;
    const changed = await this.setActive(accountId, true, talkdeskUserIds);
    await this.accounts.updateOne({ _id: accountId }, { $addToSet: { 'licensedUsers.ids': { $each: talkdeskUserIds } } });
    return changed;
  }

  /** Active licensed users of an installation of the account: the account's list when it is this installation's, else counted. */
  async licensedUserCount(account: AccountRecord | null, accountId: string, installationId: string): Promise<number> {
    const kept = account?.licensedUsers;
    if (kept?.installationId === installationId) return kept.ids.length;
    return this.users.countDocuments({ accountId, installationId, active: true });
  }

  /** The account's user mappings, in `_id` order. */
  async listUsers(accountId: string): Promise<UserMappingRecord[]> {
    const indexed = await this.indexedUserIds(accountId);
    if (!indexed) return this.users.find({ accountId }).sort({ _id: 1 }).toArray();
    const found = await Promise.all(indexed.map((id) => this.users.findOne({ _id: mappingId(accountId, id) })));
    return found.filter((u): u is UserMappingRecord => u !== null).sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
  }

  /**
   * An installation's uninstall (the built-in provisioner's deprovision): its account disabled, its licensed list emptied
   * and its mappings deactivated, each only while it is still that installation's. Two installations of one account can
   * run at once (an uninstall and a reinstall under a new id, both held through an outage): the uninstall's writes, by
   * `_id` (FerretDB reads a whole collection for any other filter), each follow a read of what they change, so a
   * provision of the other installation meanwhile is left alone (but for the moment between a read and its write).
   */
  async deprovisionInstallation(accountId: string, installationId: string): Promise<void> {
    const own = async () => (await this.accounts.findOne({ _id: accountId }))?.installationId === installationId;
    if (!(await own())) return;
    await this.disableAccount(accountId);
    // The account's list first, then the mappings: the list never names an inactive mapping (the app page trusts it).
    if (await own()) await this.accounts.updateOne({ _id: accountId }, { $set: { 'licensedUsers.ids': [] } });
    await this.setActive(accountId, false, undefined, installationId);
  }

  async disableAccount(accountId: string): Promise<void> {
    const now = new Date();
    await this.accounts.updateOne({ _id: accountId }, { $set: { status: 'disabled', disabledAt: now, updatedAt: now } });
  }

  /** Undo of a provisioning that never completed: the account disappears, its settings stay. */
  async removeProvisioning(accountId: string, installationId: string): Promise<void> {
    // Read, then deleted by `_id`: the workflow of this installation is the writer of its mappings and account.
    const removed: string[] = [];
    for (const id of await this.userIds(accountId)) {
      const m = await this.users.findOne({ _id: mappingId(accountId, id) });
      if (m?.installationId !== installationId) continue;
      await this.users.deleteOne({ _id: m._id });
      removed.push(id);
    }
    if (removed.length) await this.userIndex.updateOne({ _id: accountId }, { $pullAll: { userIds: removed } });
    const account = await this.getAccount(accountId);
    if (account?.installationId === installationId) await this.accounts.deleteOne({ _id: accountId });
  }

  async recordSubscription(accountId: string, subscription: Record<string, { name?: string; licenses?: number }>): Promise<void> {
    await this.accounts.updateOne({ _id: accountId }, { $set: { subscription, updatedAt: new Date() } });
  }

  async recordTrial(accountId: string, trial: AccountRecord['trial'], attemptAt?: number): Promise<void> {
    const set = { trial, updatedAt: new Date(), ...(attemptAt !== undefined ? { trialAttemptAt: attemptAt } : {}) };
    await this.accounts.updateOne({ _id: accountId }, { $set: set });
  }

  async recordPartnerAccountId(accountId: string, partnerAccountId: string): Promise<void> {
    await this.accounts.updateOne({ _id: accountId }, { $set: { partnerAccountId, updatedAt: new Date() } });
  }

  async updateSettings(accountId: string, settings: Record<string, unknown>): Promise<void> {
    await this.settings.updateOne({ _id: accountId }, { $set: { settings, updatedAt: new Date() } });
  }

  /**
   * Settings the undone provision created and nobody changed since (a first install that failed): left, the next
   * install would report them restored. Read, then deleted by `_id` alone (the filter FerretDB pushes down).
   */
  async removeSettingsIfCreatedBy(accountId: string, provisionKey: string): Promise<void> {
    const doc = await this.settings.findOne({ _id: accountId });
    if (doc?.createdByProvision !== provisionKey || doc.updatedAt.getTime() !== doc.createdAt.getTime()) return;
    await this.settings.deleteOne({ _id: accountId });
  }

  getSettings(accountId: string): Promise<SettingsRecord | null> {
    return this.settings.findOne({ _id: accountId });
  }
}
