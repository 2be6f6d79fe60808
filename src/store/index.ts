import type { Keyring } from '../crypto/secrets';
import { AccountStore } from './accounts';
import { CredentialStore } from './credentials';
import type { Database } from './db';
import { InboxStore } from '../handover/inbox';
import { InstallationStore } from './installations';

export { connectDatabase, COLLECTIONS, type Database } from './db';

/** Every partner-side collection, behind one object that activities and the web server share. */
export interface Store {
  db: Database;
  inbox: InboxStore;
  credentials: CredentialStore;
  accounts: AccountStore;
  installations: InstallationStore;
  ensureIndexes(): Promise<void>;
  ping(): Promise<void>;
}

export function createStore(db: Database, keyring: Keyring): Store {
  const store: Store = {
    db,
    inbox: new InboxStore(db),
    credentials: new CredentialStore(db, keyring),
    accounts: new AccountStore(db),
    installations: new InstallationStore(db),
    async ensureIndexes() {
      await store.inbox.ensureIndexes();
      await store.credentials.ensureIndexes();
      await store.accounts.ensureIndexes();
      await store.installations.ensureIndexes();
    },
    async ping() {
      await db.db.command({ ping: 1 });
    },
  };
  return store;
}
