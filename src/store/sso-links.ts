import type { Collection } from 'mongodb';
import { COLLECTIONS, type Database } from './db';

/**
 * The sign-in links of an installation, from its `app.installed` event (a rotation that
 * carries them updates them): the workflow keeps only root, tokens and installation.
 */
export interface SsoLinksRecord {
  _id: string; // installation id
  authorization?: string;
  tokens?: string;
  userinfo?: string;
  widgetUrl?: string;
  /** `created_at` of the event they came from: an older event never overwrites a newer one. */
  eventCreatedAt: Date;
  eventId: string;
  updatedAt: Date;
}

export type SsoLinks = Omit<SsoLinksRecord, '_id' | 'eventCreatedAt' | 'eventId' | 'updatedAt'>;

export class SsoLinksStore {
  readonly coll: Collection<SsoLinksRecord>;
  constructor(db: Database) {
    this.coll = db.collection<SsoLinksRecord>(COLLECTIONS.ssoLinks);
  }

  /** Idempotent; keeps the links of the newest event. */
  async save(installationId: string, links: SsoLinks, event: { id: string; createdAt: Date }): Promise<void> {
    const set = Object.fromEntries(Object.entries(links).filter(([, v]) => v !== undefined));
    if (Object.keys(set).length === 0) return;
    const existing = await this.coll.findOne({ _id: installationId });
    if (existing && existing.eventCreatedAt.getTime() > event.createdAt.getTime()) return;
    await this.coll.updateOne(
      { _id: installationId },
      { $set: { ...set, eventId: event.id, eventCreatedAt: event.createdAt, updatedAt: new Date() } },
      { upsert: true },
    );
  }

  get(installationId: string): Promise<SsoLinksRecord | null> {
    return this.coll.findOne({ _id: installationId });
  }
}
