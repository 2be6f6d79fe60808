import type { AllowedUrl } from './allowlist';
import { DisallowedHostError, TalkdeskProtocolError } from './errors';
import { endpointOf, type TalkdeskHttp } from './http';
import { usersPageSchema, type TalkdeskUser, type TalkdeskUsersPage } from './schemas';

/** Every user of a paged user listing, each id once, bounded by the client's page limit. */
export async function allUserPages(http: TalkdeskHttp, first: AllowedUrl, token: string): Promise<TalkdeskUser[]> {
  const users = new Map<string, TalkdeskUser>();
  const seen = new Set<string>();
  let current: AllowedUrl | undefined = first;
  while (current) {
    if (seen.size >= http.maxPages) {
      throw new TalkdeskProtocolError({
        status: 200,
        endpoint: endpointOf('GET', first.url),
        issues: [`paging: more than ${http.maxPages} pages`],
      });
    }
    seen.add(current.url.href);
    const page: TalkdeskUsersPage = await http.json({ method: 'GET', target: current, token, secrets: [token] }, usersPageSchema);
    // Users added while paging shift offsets; keep each id once.
    for (const user of page._embedded?.users ?? []) if (!users.has(user.id)) users.set(user.id, user);
    current = nextPage(http, page, current, first, seen);
  }
  return [...users.values()];
}

/** `_links.next.href` when present, else page + 1 while page * per_page < total; same host as the first page only. */
function nextPage(
  http: TalkdeskHttp,
  page: TalkdeskUsersPage,
  current: AllowedUrl,
  first: AllowedUrl,
  seen: Set<string>,
): AllowedUrl | undefined {
  const endpoint = endpointOf('GET', first.url);
  let candidate: URL | undefined;
  const href = page._links?.next?.href;
  if (href !== undefined) {
    try {
      candidate = new URL(href, current.url);
    } catch {
      throw new TalkdeskProtocolError({ status: 200, endpoint, issues: ['_links.next.href: not a URL'] });
    }
  } else if (
    page.total !== undefined &&
    page.page !== undefined &&
    page.per_page !== undefined &&
    (page._embedded?.users.length ?? 0) > 0 &&
    page.page * page.per_page < page.total
  ) {
    candidate = new URL(current.url);
    candidate.searchParams.set('page', String(page.page + 1));
    candidate.searchParams.set('per_page', String(page.per_page));
  }
  if (!candidate) return undefined;

  const next = http.allowed(candidate);
  if (next.url.host !== first.url.host || next.url.protocol !== first.url.protocol) {
    throw new DisallowedHostError({ host: next.url.host, reason: 'a paging link points away from the API root host' });
  }
  if (seen.has(next.url.href)) {
    throw new TalkdeskProtocolError({ status: 200, endpoint, issues: ['_links.next.href: repeats a page already read'] });
  }
  return next;
}

/**
 * One page of a paged user listing, for a reader that heartbeats and resumes page by
 * page: `pageUrl` is a `next` this returned (absent for the first page); `next` is
 * absent on the last page. A link away from the first page's host is refused.
 */
export async function userPage(
  http: TalkdeskHttp,
  first: AllowedUrl,
  token: string,
  pageUrl?: string,
): Promise<{ users: TalkdeskUser[]; next?: string }> {
  const current = pageUrl ? http.allowed(pageUrl) : first;
  if (current.url.host !== first.url.host || current.url.protocol !== first.url.protocol) {
    throw new DisallowedHostError({ host: current.url.host, reason: 'a paging link points away from the API root host' });
  }
  const page: TalkdeskUsersPage = await http.json({ method: 'GET', target: current, token, secrets: [token] }, usersPageSchema);
  const next = nextPage(http, page, current, first, new Set([current.url.href]));
  return { users: page._embedded?.users ?? [], ...(next ? { next: next.url.href } : {}) };
}
