import { MongoServerError, type Collection, type Document, type Filter } from 'mongodb';
import { credentialId } from './credentials';
import { COLLECTIONS, type Database } from './db';
/** The value at a dotted path of a document, undefined when any step is missing. */
export function valueAt(doc: Document, path: string): unknown {
  let v: unknown = doc;
  for (const key of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

/** Records moved from a legacy `${installationId}:${clientId}` id to credentialId(). */
export interface IdMigrationReport {
  collection: string;
  /** Moved to their collision-free id (a dry run: would be moved). */
  moved: number;
  /** Dropped: a record already sat under the new id (written since the upgrade), which wins. */
  dropped: number;
}

/**
 * Moves credential and token records still under the legacy id (ambiguous when an id
 * holds `:`) to credentialId(). Reads every record's ids (a maintenance pass, not a
 * hot path). The blob needs no change for the move: its binding holds no `_id`.
 */
export async function migrateCredentialIds(db: Database, dryRun = false, guard?: () => void): Promise<IdMigrationReport[]> {
  const reports: IdMigrationReport[] = [];
  for (const name of [COLLECTIONS.credentials, COLLECTIONS.tokens] as const) {
    const coll = db.collection<Document>(name);
    const report: IdMigrationReport = { collection: name, moved: 0, dropped: 0 };
    const docs = await coll.find({}, { projection: { _id: 1, installationId: 1, clientId: 1 } }).toArray();
    for (const d of docs) {
      if (typeof d.installationId !== 'string' || typeof d.clientId !== 'string') continue;
      const id = credentialId(d.installationId, d.clientId);
      if ((d._id as unknown) === id) continue;
      if (dryRun) {
        report.moved += 1; // would be moved
        continue;
      }
      const owner = { _id: d._id, installationId: d.installationId, clientId: d.clientId } as Filter<Document>;
      const full = await coll.findOne(owner);
      if (!full) continue;
      guard?.();
      let copied = false;
      try {
        await coll.insertOne({ ...full, _id: id } as Document);
        copied = true;
        report.moved += 1;
      } catch (err) {
        if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
        report.dropped += 1;
      }
      await settleMove(coll, name, owner, id, full, copied, guard);
    }
    reports.push(report);
  }
  return reports;
}

/**
 * Ends one record's move to `id` (`copied`: this run made the copy; else another run did) by deleting the legacy record.
 * The service runs meanwhile: a writer that found no record under the new id before the copy wrote the old one (an
 * uninstall's destroy, a retirement). The copy takes that last state, or the delete would undo the write (a destroyed
 * secret readable again). Writers from now on find the copy first; one that read before the copy may still write the
 * old record after the read below: the delete takes it only as it was read, else again. Carried over only while the
 * copy is as it was made (a writer reading the new id since wins), but a destroy always (its secret must stay
 * unreadable); a legacy token deleted meanwhile (its set destroyed) takes its copy.
 */
async function settleMove(
  coll: Collection<Document>,
  name: string,
  owner: Filter<Document>,
  id: string,
  full: Document,
  copied: boolean,
  guard?: () => void,
): Promise<void> {
  const newId = { _id: id as unknown } as Filter<Document>;
  let copiedState = full;
  for (let round = 0; round < 10; round += 1) {
    const now = await coll.findOne(owner);
    guard?.(); // before this round's writes: a run that lost its lease leaves the move to the one holding it
    if (!now) {
      // Only a token is deleted by the service (its set destroyed): a credential record gone is another run's move.
      if (copied && name === COLLECTIONS.tokens) await coll.deleteOne({ ...newId, ...asRead(copiedState) } as Filter<Document>);
      return;
    }
    // A copy another run made (an overlapping run): a destroy written to the legacy record since still reaches it.
    if (!copied && name === COLLECTIONS.credentials && now.status === 'destroyed')
      await coll.updateOne(
        { ...newId, sourceEventId: now.sourceEventId, createdAt: now.createdAt, status: { $ne: 'destroyed' } } as Filter<Document>,
        { $set: { status: 'destroyed', destroyedAt: now.destroyedAt ?? new Date() }, $unset: { secret: '' } },
      );
    if (copied && JSON.stringify(now) !== JSON.stringify(copiedState)) {
      const unchanged = now.status === 'destroyed' ? newId : ({ ...newId, ...asRead(copiedState) } as Filter<Document>);
      await coll.replaceOne(unchanged, { ...now, _id: id });
      copiedState = now;
    }
    if ((await coll.deleteOne({ ...owner, ...asRead(now) } as Filter<Document>)).deletedCount === 1) return;
  }
}

/** The fields a writer of a credential set or token changes, as read: a filter that no longer matches once one wrote. */
function asRead(doc: Document): Filter<Document> {
  const fields = ['status', 'secret.iv', 'token.iv', 'activatedAt', 'retireAt', 'destroyedAt', 'expiresAt'];
  return Object.fromEntries(
    fields.map((f) => {
      const v = valueAt(doc, f);
      return [f, v === undefined ? { $exists: false } : v];
    }),
  );
}
