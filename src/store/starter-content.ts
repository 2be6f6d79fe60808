import type { Collection } from 'mongodb';
import { COLLECTIONS, type Database } from './db';

/**
 * The content an account sees on the app's first page from the moment it is
 * installed (a sample dashboard, a getting-started checklist). One document per
 * Talkdesk account: created at install, kept on uninstall, restored (never
 * duplicated) on reinstall.
 */
export interface StarterContentRecord {
  _id: string; // Talkdesk account id
  accountId: string;
  /** The installation that created or last restored it. */
  installationId: string;
  /** The installation that first created it: undoing that install removes it. */
  firstInstallationId: string;
  /** The provision call that created it (since it is kept): only undoing that call removes it. */
  createdByProvision?: string;
  dashboards: { id: string; title: string; description: string }[];
  checklist: { id: string; title: string; done: boolean }[];
  createdAt: Date;
  updatedAt: Date;
}

export const STARTER_DASHBOARDS: StarterContentRecord['dashboards'] = [
  {
    id: 'sample-overview',
    title: 'Sample dashboard: contact center overview',
    description: 'Calls, wait times and agent availability, filled with sample data until your own arrives.',
  },
];

export const STARTER_CHECKLIST: StarterContentRecord['checklist'] = [
  { id: 'open-sample-dashboard', title: 'Open the sample dashboard', done: false },
  { id: 'connect-data', title: 'Connect your Talkdesk data', done: false },
  { id: 'invite-team', title: 'Tell your licensed users the app is ready', done: false },
];

export class StarterContentStore {
  readonly coll: Collection<StarterContentRecord>;
  constructor(db: Database) {
    this.coll = db.collection<StarterContentRecord>(COLLECTIONS.starterContent);
  }

  async ensureIndexes(): Promise<void> {
    await this.coll.createIndex({ installationId: 1 });
  }

  /**
   * Creates the account's starter content, or restores the existing one for this
   * installation (a reinstall keeps the checklist's progress). Keyed by the
   * account id, so retries and reinstalls never make a second one.
   */
  async ensure(accountId: string, installationId: string, provisionKey?: string): Promise<{ restored: boolean }> {
    const now = new Date();
    const before = await this.coll.findOneAndUpdate(
      { _id: accountId },
      {
        $set: { installationId, updatedAt: now },
        $setOnInsert: {
          accountId,
          firstInstallationId: installationId,
          ...(provisionKey ? { createdByProvision: provisionKey } : {}),
          dashboards: STARTER_DASHBOARDS,
          checklist: STARTER_CHECKLIST,
          createdAt: now,
        },
      },
      { upsert: true, returnDocument: 'before' },
    );
    return { restored: before !== null && before.firstInstallationId !== installationId };
  }

  get(accountId: string): Promise<StarterContentRecord | null> {
    return this.coll.findOne({ _id: accountId });
  }

  /**
   * Undo of an install that never completed: removes the content only if that install created it, by the provision
   * call (`provisionKey`, the undo's `undoes`) when both are known: a reinstall under the same installation id that
   * fails must not take the earlier life's content (and its checklist's progress) with it.
   */
  async removeIfCreatedBy(accountId: string, installationId: string, provisionKey?: string): Promise<void> {
    // Read, then deleted by `_id` alone (the filter FerretDB pushes down).
    const doc = await this.coll.findOne({ _id: accountId }, { projection: { firstInstallationId: 1, createdByProvision: 1 } });
    if (doc?.firstInstallationId !== installationId) return;
    if (doc.createdByProvision !== undefined && provisionKey !== undefined && doc.createdByProvision !== provisionKey) return;
    await this.coll.deleteOne({ _id: accountId });
  }

  async markDone(accountId: string, itemId: string): Promise<void> {
    const doc = await this.get(accountId);
    if (!doc) return;
    const checklist = doc.checklist.map((c) => (c.id === itemId ? { ...c, done: true } : c));
    await this.coll.updateOne({ _id: accountId }, { $set: { checklist, updatedAt: new Date() } });
  }
}
