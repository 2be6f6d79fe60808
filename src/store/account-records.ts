/** The records of the partner-side accounts (`accounts.ts`): accounts, user mappings, settings, the user index. */
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
  /** When the activity attempt that recorded `trial` was scheduled (Temporal's clock, Unix ms). */
  trialAttemptAt?: number;
  settingsRestored: boolean;
  /** The key of the provision that made it provisioned (the install event's call): another install starts afresh. */
  provisionedBy?: string;
  /** That install event's `created_at`: an earlier installation's provision retried later does not take the account back. */
  provisionEventAt?: Date;
  /** Talkdesk user id of the installing administrator (`created_by` of the installation). */
  createdBy?: string;
  /** The partner's own id for the account, from the HTTP provisioner's answer. */
  partnerAccountId?: string;
  /**
   * The active licensed users of the account's current installation, kept by every write of the mappings below, so that
   * the app page counts them without a query that reads every mapping and checks a session's licence without reading its
   * mapping. Added to after a mapping is activated, removed from before one is deactivated: it never names an inactive
   * mapping. Absent on accounts provisioned before it existed: those are counted from the mappings.
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
  /** When its facts reached us (the applied event's receipt, a licence read's time; absent: `updatedAt`), and that event's
   * `created_at` (Talkdesk's clock; none for a licence read): a removal received, or created, later wins (`endedBy`). */
  factsAt?: Date;
  factsEventAt?: Date;
}

/** Settings the partner keeps for an account across uninstall and reinstall. */
export interface SettingsRecord {
  _id: string; // Talkdesk account id
  settings: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  /** The key of the provision call that created them (absent before it was recorded). */
  createdByProvision?: string;
}

/**
 * The Talkdesk user ids of an account's mappings (`account_users`), so that the mappings are read and written by `_id`
 * (`<accountId>:<userId>`), never by a filter the embedded FerretDB answers by reading the whole collection. Created
 * with the account; an account an older version created gets it from one read by account the first time its users change.
 */
export interface AccountUsersRecord {
  _id: string; // Talkdesk account id
  userIds: string[];
  updatedAt: Date;
}

export interface TalkdeskUserFacts {
  id: string;
  email?: string;
  name?: string;
  role?: 'admin' | 'user';
}
