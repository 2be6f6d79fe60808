import type { Keyring } from '../crypto/secrets';
import { AccountStore } from './accounts';
import { CredentialStore } from './credentials';
import { TokenGrants } from './token-grants';
import { COLLECTIONS, type Database } from './db';
import { EventCredentialStore } from './event-credentials';
import { InboxStore } from '../handover/inbox';
import { InstallationStore } from './installations';
import { LicensedUsersProgressStore } from './licensed-users-progress';
import { MARKERS, StoreMarkers } from './markers';
import { ReconcilePlanStore } from './reconcile-plans';
import { StarterContentStore } from './starter-content';
import { PartnerCallStore } from '../partner/calls-store';

export { connectDatabase, isStoreOutage, pingWithNewClient, COLLECTIONS, type Database } from './db';

/** Every partner-side collection, behind one object that activities and the web server share. */
export interface Store {
  db: Database;
  inbox: InboxStore;
  eventCredentials: EventCredentialStore;
  credentials: CredentialStore;
  /** Whether a credential set was ever granted a token (a fresh one refused may have its scopes activating). */
  tokenGrants: TokenGrants;
  accounts: AccountStore;
  installations: InstallationStore;
  starterContent: StarterContentStore;
  /** Partner calls kept for later or refused (the HTTP provisioner's record for operators). */
  partnerCalls: PartnerCallStore;
  /** Where a reading of the licensed users stands, for the step's next attempt. */
  licensedUsersProgress: LicensedUsersProgressStore;
  /** The pages of reconciliation passes (activities/reconcile-plan.ts). */
  reconcilePlans: ReconcilePlanStore;
  /** One-time facts about the whole store (migrations done, the last sweep), read by `_id`. */
  markers: StoreMarkers;
  ensureIndexes(): Promise<void>;
  /**
   * At start: the indexes, credentials older versions kept in inbox records moved out (and
   * whether any remain), then the credential sets older versions stored indexed once.
   */
  prepare(): Promise<{ movedCredentials: number; indexedCredentialSets: number }>;
  ping(): Promise<void>;
}

export function createStore(db: Database, keyring: Keyring): Store {
  const eventCredentials = new EventCredentialStore(db);
  const store: Store = {
    db,
    inbox: new InboxStore(db, eventCredentials),
    eventCredentials,
    credentials: new CredentialStore(db, keyring),
    tokenGrants: new TokenGrants(db),
    accounts: new AccountStore(db),
    installations: new InstallationStore(db),
    starterContent: new StarterContentStore(db),
    partnerCalls: new PartnerCallStore(db),
    licensedUsersProgress: new LicensedUsersProgressStore(db),
    reconcilePlans: new ReconcilePlanStore(db),
    markers: new StoreMarkers(db),
    async ensureIndexes() {
      await store.inbox.ensureIndexes();
      await store.eventCredentials.ensureIndexes();
      await store.credentials.ensureIndexes();
      await store.tokenGrants.ensureIndexes();
      await store.accounts.ensureIndexes();
      await store.installations.ensureIndexes();
      await store.starterContent.ensureIndexes();
      await store.partnerCalls.ensureIndexes();
      await store.licensedUsersProgress.ensureIndexes();
    },
    async prepare() {
      await store.ensureIndexes();
      const movedCredentials = await store.inbox.moveLegacyCredentials();
      // An uninstall skips its search of the inbox for older versions' copies while none is left.
      const legacyLeft = await db.collection(COLLECTIONS.inbox).findOne({ credentials: { $exists: true } }, { projection: { _id: 1 } });
      if (legacyLeft) await store.markers.unset(MARKERS.inboxLegacyCredentialsNone);
      else await store.markers.set(MARKERS.inboxLegacyCredentialsNone);
      return { movedCredentials, indexedCredentialSets: await store.credentials.indexStoredSets() };
    },
    async ping() {
      await db.db.command({ ping: 1 });
    },
  };
  return store;
}
