import type { Keyring } from '../crypto/secrets';
import { AccountStore } from './accounts';
import { CredentialStore } from './credentials';
import type { Database } from './db';
import { EventCredentialStore } from './event-credentials';
import { InboxStore } from '../handover/inbox';
import { InstallationStore } from './installations';
import { LicensedUsersProgressStore } from './licensed-users-progress';
import { ReconcilePlanStore } from './reconcile-plans';
import { StarterContentStore } from './starter-content';
import { PartnerCallStore } from '../partner/calls-store';

export { connectDatabase, COLLECTIONS, type Database } from './db';

/** Every partner-side collection, behind one object that activities and the web server share. */
export interface Store {
  db: Database;
  inbox: InboxStore;
  eventCredentials: EventCredentialStore;
  credentials: CredentialStore;
  accounts: AccountStore;
  installations: InstallationStore;
  starterContent: StarterContentStore;
  /** Partner calls kept for later or refused (the HTTP provisioner's record for operators). */
  partnerCalls: PartnerCallStore;
  /** Where a reading of the licensed users stands, for the step's next attempt. */
  licensedUsersProgress: LicensedUsersProgressStore;
  /** The pages of reconciliation passes (activities/reconcile-plan.ts). */
  reconcilePlans: ReconcilePlanStore;
  ensureIndexes(): Promise<void>;
  /** At start: the indexes, then credentials older versions kept in inbox records moved out. */
  prepare(): Promise<{ movedCredentials: number }>;
  ping(): Promise<void>;
}

export function createStore(db: Database, keyring: Keyring): Store {
  const eventCredentials = new EventCredentialStore(db);
  const store: Store = {
    db,
    inbox: new InboxStore(db, eventCredentials),
    eventCredentials,
    credentials: new CredentialStore(db, keyring),
    accounts: new AccountStore(db),
    installations: new InstallationStore(db),
    starterContent: new StarterContentStore(db),
    partnerCalls: new PartnerCallStore(db),
    licensedUsersProgress: new LicensedUsersProgressStore(db),
    reconcilePlans: new ReconcilePlanStore(db),
    async ensureIndexes() {
      await store.inbox.ensureIndexes();
      await store.eventCredentials.ensureIndexes();
      await store.credentials.ensureIndexes();
      await store.accounts.ensureIndexes();
      await store.installations.ensureIndexes();
      await store.starterContent.ensureIndexes();
      await store.partnerCalls.ensureIndexes();
      await store.licensedUsersProgress.ensureIndexes();
    },
    async prepare() {
      await store.ensureIndexes();
      return { movedCredentials: await store.inbox.moveLegacyCredentials() };
    },
    async ping() {
      await db.db.command({ ping: 1 });
    },
  };
  return store;
}
