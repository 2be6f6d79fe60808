import type { Collection } from 'mongodb';
import type { Database } from './db';

/** Written by partner provisioning at install (one document per Talkdesk account); read here only. */
export const STARTER_CONTENT_COLLECTION = 'starter_content';

export interface StarterContentRecord {
  _id: string; // Talkdesk account id
  accountId: string;
  installationId: string;
  dashboards: { id: string; title: string; description: string }[];
  checklist: { id: string; title: string; done: boolean }[];
  createdAt: Date;
  updatedAt: Date;
}

/** Reads the starter content the first page shows; undefined when provisioning made none (yet). */
export class StarterContentReader {
  private readonly coll: Collection<StarterContentRecord>;
  constructor(db: Database) {
    this.coll = db.db.collection<StarterContentRecord>(STARTER_CONTENT_COLLECTION);
  }

  async forAccount(accountId: string): Promise<StarterContentRecord | undefined> {
    return (await this.coll.findOne({ _id: accountId })) ?? undefined;
  }
}
