import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TalkdeskUser } from '../src/talkdesk/schemas';
import { TALKDESK_FAILURE_TYPES } from '../src/talkdesk/failures';

/**
 * Where a reading of the licensed users stands: the heartbeat details. Never the users read: a timed-out
 * attempt's last details are written into the workflow's history (names and emails), and a large account's
 * would outgrow the server's payload limit. A later attempt resumes from the store (`ReadingStore`).
 */
export interface LicensedUsersProgress {
  kind: 'licensed-users';
  /** The next page to read; absent once every page was read. */
  next?: string;
  pages: number;
  /** Users read so far: a count. */
  users: number;
}

export type ReadPage = (pageUrl?: string) => Promise<{ users: TalkdeskUser[]; next?: string }>;

/**
 * Where the reading is kept beyond one activity (MongoDB, `licensed_users_progress`):
 * the workflow's next attempt of the step is a new activity, without heartbeat details.
 */
export interface ReadingStore {
  load(): Promise<{ pages: number; users: TalkdeskUser[]; next?: string } | undefined>;
  /** Keeps the page unless one is kept already (another attempt's): returns the page kept, which the reading goes on from. */
  savePage(page: number, users: TalkdeskUser[], next: string | undefined): Promise<{ users: TalkdeskUser[]; next?: string }>;
}

/**
 * Reads every page of the licensed users, heartbeating after each page with where it stands;
 * with `saved`, each page is also kept in the store and a later attempt (a new activity) goes on
 * from it. No page limit of its own: Talkdesk's `next` (or total) ends it; a page that repeats
 * ends it as a protocol error rather than a loop.
 */
export async function readLicensedUsers(readPage: ReadPage, saved?: ReadingStore): Promise<TalkdeskUser[]> {
  const from = await saved?.load();
  const users = new Map<string, TalkdeskUser>((from?.users ?? []).map((u) => [u.id, u]));
  if (from && from.next === undefined) return [...users.values()];
  let next = from?.next;
  let pages = from?.pages ?? 0;
  const seen = new Set<string>(next ? [next] : []);
  do {
    const read = await readPage(next);
    pages += 1;
    // The page another attempt kept first, if one did: every attempt under the key sends the same users.
    const page = saved ? await saved.savePage(pages, read.users, read.next) : read;
    // Users added while paging shift offsets: keep each id once.
    for (const u of page.users) if (!users.has(u.id)) users.set(u.id, u);
    if (page.next !== undefined && seen.has(page.next)) {
      throw ApplicationFailure.create({
        type: TALKDESK_FAILURE_TYPES.protocol,
        message: `Talkdesk's licensed users paging repeats a page after ${pages} pages`,
        nonRetryable: true,
      });
    }
    if (page.next !== undefined) seen.add(page.next);
    next = page.next;
    const progress: LicensedUsersProgress = { kind: 'licensed-users', pages, users: users.size, ...(next ? { next } : {}) };
    heartbeat(progress);
  } while (next !== undefined);
  return [...users.values()];
}

/**
 * Talkdesk's licensed users against the account's active ones (`existing`): those to add, and those to remove. A licence
 * removed while the pages were read (a reading resumed after a 429, minutes later) moves the users after it back a page,
 * and one of them is never read: a user is removed only if a second, fresh reading lacks them too.
 */
export async function licensedDifference(
  existing: ReadonlySet<string>,
  readPage: ReadPage,
  saved?: ReadingStore,
  confirmSaved?: ReadingStore,
): Promise<{ added: TalkdeskUser[]; removing: string[] }> {
  const licensed = await readLicensedUsers(readPage, saved);
  const licensedIds = new Set(licensed.map((u) => u.id));
  const added = licensed.filter((u) => !existing.has(u.id));
  let removing = [...existing].filter((id) => !licensedIds.has(id));
  if (removing.length > 0) {
    const again = await readLicensedUsers(readPage, confirmSaved); // kept apart: a later attempt resumes it too
    const againIds = new Set(again.map((u) => u.id));
    removing = removing.filter((id) => !againIds.has(id));
    added.push(...again.filter((u) => !existing.has(u.id) && !licensedIds.has(u.id)));
  }
  return { added, removing };
}
