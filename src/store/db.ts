import {
  MongoClient,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type Db,
  type Collection,
  type Document,
  type Filter,
  type UpdateFilter,
} from 'mongodb';

/** Collection names in one place; the README lists them. */
export const COLLECTIONS = {
  inbox: 'inbox',
  dispatchQueue: 'dispatch_queue',
  eventCredentials: 'event_credentials',
  credentials: 'credentials',
  tokens: 'tokens',
  accounts: 'accounts',
  userMappings: 'user_mappings',
  settings: 'account_settings',
  installations: 'installations',
  talkdeskChecks: 'talkdesk_checks',
  resumedRuns: 'resumed_runs',
  starterContent: 'starter_content',
  partnerCalls: 'partner_calls',
  licensedUsersProgress: 'licensed_users_progress',
  sessions: 'sessions',
  ssoLogouts: 'sso_logouts',
  ssoStates: 'sso_states',
  ssoFailures: 'sso_failures',
  ssoLinks: 'sso_links',
  reconcilePlans: 'reconcile_plans',
  partnerOutstanding: 'partner_outstanding',
  partnerLogouts: 'partner_logouts',
  logoutsOwed: 'logouts_owed',
  tokenGrants: 'token_grants',
  partnerLogoutClaims: 'partner_logout_claims',
  credentialSets: 'credential_sets',
  credentialCloses: 'credential_closes',
  accountUsers: 'account_users',
  storeMarkers: 'store_markers',
} as const;

export interface Database {
  client: MongoClient;
  db: Db;
  collection<T extends Document>(name: (typeof COLLECTIONS)[keyof typeof COLLECTIONS]): Collection<T>;
  close(): Promise<void>;
  /**
   * Closes the client and connects it again, in place: the collections handed out keep working
   * (an operation picks the client's topology when it runs). For a client stuck while the store
   * answers others (src/store/watchdog.ts); operations under way fail, as in an outage.
   */
  reconnect(): Promise<void>;
}

/**
 * For the writes a callback's 2xx promises (an event's record and its credentials copy, the only copy of a new
 * account's credentials): acknowledged once journaled on a majority, not held in memory where a crash or a
 * failover rolls them back after Talkdesk was told. The embedded FerretDB accepts it (SQLite commits each write). Bounded:
 * a replica set without a majority (a secondary down beside an arbiter) answers 503 in 5 s; its redelivery is answered 503
 * too until a majority holds the record (src/handover/inbox.ts reads it at read concern majority), then as a repeat.
 */
export const DURABLE_WRITE = { writeConcern: { w: 'majority', journal: true, wtimeoutMS: 5_000 } } as const;

/**
 * An earlier delivery stored the event (its record, or its credentials' copy) on the primary, but a majority of the replica
 * set does not hold it yet (its write concern failed): not stored as far as Talkdesk may be told. The callback answers 503 and the next delivery
 * finds it, once the majority does.
 */
export class NotDurableYetError extends Error {
  constructor() {
    super('the event is stored by an earlier delivery but not yet on a majority of the replica set: deliver it again later');
    this.name = 'NotDurableYetError';
  }
}

/** Reads what a majority holds: a write whose majority wait failed (its delivery answered 503) reads as absent. */
export const MAJORITY_READ = { readConcern: { level: 'majority' as const } };

/** Fail fast so the callback can answer 503 while MongoDB is down instead of hanging. */
const STORE_TIMEOUT_MS = 3_000;

export async function connectDatabase(uri: string, dbName: string): Promise<Database> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: STORE_TIMEOUT_MS,
    connectTimeoutMS: STORE_TIMEOUT_MS,
    retryWrites: false,
  });
  await client.connect();
  const db = client.db(dbName);
  // Closed for good by close(): a reconnect under way then does not open the client again.
  let closed = false;
  return {
    client,
    db,
    collection: <T extends Document>(name: string) => db.collection<T>(name),
    close: () => {
      closed = true;
      return client.close();
    },
    async reconnect() {
      await client.close();
      if (closed) return;
      await client.connect();
      // Closed for good while connecting (a shutdown racing the watchdog): not left open.
      if (closed) await client.close();
    },
  };
}

/** A ping through a brand-new client, closed afterwards: does the store answer anyone? (src/store/watchdog.ts) */
export async function pingWithNewClient(uri: string, dbName: string): Promise<void> {
  const fresh = await connectDatabase(uri, dbName);
  try {
    await fresh.db.command({ ping: 1 });
  } finally {
    await fresh.close();
  }
}

/** Deletes documents by `_id`, one `$in` per few hundred ids so each command stays small; returns how many. */
export async function deleteByIds<T extends { _id: string }>(coll: Collection<T>, ids: readonly string[]): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    deleted += (await coll.deleteMany({ _id: { $in: chunk } } as Filter<T>)).deletedCount;
  }
  return deleted;
}

/**
 * An upsert of one document by `_id`, tried again once when it lost a race to insert it
 * (duplicate key): MongoDB retries such an upsert itself, FerretDB answers E11000. The second
 * try finds the document the other writer inserted and updates it.
 */
export async function upsertById<T extends { _id: string }>(coll: Collection<T>, id: string, update: UpdateFilter<T>): Promise<void> {
  await upsertManyById(coll, [id], update);
}

/** upsertById for several documents, one update each, in one command (unordered), tried again the same way. */
export async function upsertManyById<T extends { _id: string }>(
  coll: Collection<T>,
  ids: readonly string[],
  update: UpdateFilter<T>,
): Promise<void> {
  if (ids.length === 0) return;
  const write: () => Promise<unknown> =
    ids.length === 1
      ? () => coll.updateOne({ _id: ids[0] } as Filter<T>, update, { upsert: true })
      : () =>
          coll.bulkWrite(
            ids.map((id) => ({ updateOne: { filter: { _id: id } as Filter<T>, update, upsert: true } })),
            { ordered: false },
          );
  await onceMoreIfDuplicate(write);
}

/**
 * An upsert by `_id`, tried again once when it lost a race to insert the document (duplicate key): MongoDB retries
 * such an upsert itself, FerretDB answers E11000, and the second try finds the document the other writer inserted.
 */
export async function onceMoreIfDuplicate<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (!(e instanceof MongoServerError && e.code === 11000)) throw e;
    return write();
  }
}

/** Socket errors the driver lets through unwrapped when MongoDB is cut off mid-write (e.g. "This socket has been ended by the other party"). */
const SOCKET_FAILURES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ERR_STREAM_DESTROYED']);

/** The driver's errors for a store not reached (a network error covers a cleared pool and a timeout too). */
const OUTAGE_ERRORS = [
  MongoNetworkError,
  MongoServerSelectionError,
  MongoNotConnectedError,
  MongoTopologyClosedError,
  MongoServerClosedError,
  MongoOperationTimeoutError,
];

/**
 * MongoDB down or cut off: the driver's errors for a store not reached, or a bare socket error from
 * the driver's connection. Not another MongoError (a duplicate key, a refused command: a fault to
 * look into), and not a typed error that names a socket code (e.g. TalkdeskUnavailableError: only a
 * bare `Error` is taken).
 */
export function isStoreOutage(err: unknown): boolean {
  if (OUTAGE_ERRORS.some((type) => err instanceof type)) return true;
  if (!(err instanceof Error) || err.name !== 'Error') return false;
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && SOCKET_FAILURES.has(code);
}
