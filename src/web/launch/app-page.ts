import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import type { AccountRecord, UserMappingRecord } from '../../store/accounts';
import type { InstallationRecord } from '../../store/installations';
import type { SessionRecord } from '../../store/sessions';
import { readRawBody } from '../raw-body';
import { cookieBase, type LaunchContext } from './context';
import { endedBy, LOGOUT_CLOCK_ALLOWANCE_MS } from './ended-by';
import { clearCookie, framingOf, nonce, pageHeaders, readCookie, redirectTo, sameText, SESSION_COOKIE } from './http';
import { appPage, notSignedInPage, signedOutPage, signOutConfirmPage, simplePage } from './pages';

export const APP_PATH = '/app';
export const APP_LOGOUT_PATH = '/app/logout';
export const SIGNED_OUT_PATH = '/app/signed-out';

/** The logout form's CSRF token: derived from the session id, which only the browser holds. */
const csrfFor = (sessionId: string): string => createHash('sha256').update(`csrf\0${sessionId}`).digest('base64url');

function html(lc: LaunchContext, ctx: Context, status: number, render: (n: string) => string, scriptHosts: string[] = []): void {
  const n = nonce();
  pageHeaders(ctx, { nonce: n, scriptHosts, ...framingOf(lc.settings) });
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = render(n);
}

/**
 * The live session behind the cookie. A session also ends when its installation is no longer
 * usable or its user lost the licence: checked on every read, so an uninstall or a removal
 * ends it even before the event that says so is applied. The licence is read from the
 * account's list of licensed users (`licensedUsers`, the account the page shows anyway),
 * which every mapping write keeps no larger than the active mappings; a user it does not name
 * is looked up in the mappings (this installation's) before the session ends. What Talkdesk said
 * since its sign-in began (the callback's logout, removal and uninstall marks, as a sign-in weighs
 * them) ends it too: the callback writes a mark before it ends the sessions, and when that end
 * failed (answered 503) the session would otherwise live on until Talkdesk delivers the event
 * again or the backstop runs. The page's own reads (`pageReads`) go with the checks' reads, in
 * parallel; they are used only once the checks pass.
 */
async function currentSession<T>(
  lc: LaunchContext,
  ctx: Context,
  pageReads: (session: SessionRecord) => Promise<T>,
): Promise<{ id: string; session: SessionRecord; rec: InstallationRecord; account: AccountRecord | null; page: T } | undefined> {
  const id = readCookie(ctx, SESSION_COOKIE);
  if (!id) return undefined;
  const session = await lc.sessions.find(id);
  if (!session) return undefined;
  const [rec, account, marks, page] = await Promise.all([
    lc.store.installations.get(session.installationId),
    lc.store.accounts.getAccount(session.accountId),
    lc.sessions.endingMarks(session.installationId, session.talkdeskUserId),
    pageReads(session),
  ]);
  let mapping: Promise<UserMappingRecord | null> | undefined;
  const mappingOf = () => (mapping ??= lc.store.accounts.users.findOne({ _id: `${session.accountId}:${session.talkdeskUserId}` }));
  const listed = account?.licensedUsers;
  const licensed =
    (listed?.installationId === session.installationId && listed.ids.includes(session.talkdeskUserId)) ||
    (await mappingOf().then((m) => m?.active === true && m.installationId === session.installationId));
  const live = rec !== null && ['active', 'updating'].includes(rec.phase) && licensed;
  // A session of an earlier version has no `signInAt`: its creation, a little after its sign-in began.
  const began = new Date((session.signInAt ?? session.createdAt).getTime() - LOGOUT_CLOCK_ALLOWANCE_MS);
  const removal = marks.removedAt !== undefined || marks.removalEventAt !== undefined;
  const ended =
    live && endedBy(marks, { began, mapping: removal ? await mappingOf() : null, rec, facts: { installationId: rec._id } }) !== undefined;
  if (!live || ended) {
    await lc.sessions.end(id);
    return undefined;
  }
  return { id, session, rec, account, page };
}

function planText(
  account: { subscription?: Record<string, { name?: string; licenses?: number }>; trial?: { expiresAt?: string; endedAt?: string } } | null,
): string {
  const sub = account?.subscription && Object.values(account.subscription)[0];
  if (sub?.name) return `Subscription: ${sub.name}${sub.licenses !== undefined ? ` (${sub.licenses} licences)` : ''}`;
  if (account?.trial?.endedAt) return `Trial ended ${account.trial.endedAt.slice(0, 10)}`;
  if (account?.trial?.expiresAt) return `Trial until ${account.trial.expiresAt.slice(0, 10)}`;
  return 'No subscription or trial recorded';
}

/** GET /app: the first page of a signed-in user. */
export async function appHome(lc: LaunchContext, ctx: Context): Promise<void> {
  const current = await currentSession(lc, ctx, (session) =>
    Promise.all([
      // Sessions of earlier versions do not carry the widget link.
      session.widgetUrl === undefined ? lc.links.get(session.installationId).then((l) => l?.widgetUrl) : Promise.resolve(session.widgetUrl),
      lc.starter.get(session.accountId).then((s) => s ?? undefined),
    ]),
  );
  if (!current) {
    clearCookie(ctx, SESSION_COOKIE, cookieBase(lc, '/'));
    return html(lc, ctx, 401, (n) => notSignedInPage(n, lc.settings.supportContact));
  }
  const { session, rec, account } = current;
  const [widgetLink, starter] = current.page;
  const licensedUsers = await lc.store.accounts.licensedUserCount(account, session.accountId, session.installationId);
  let widgetUrl: string | undefined;
  let widgetHost: string | undefined;
  try {
    const u = widgetLink ? new URL(widgetLink) : undefined;
    if (u && u.protocol === 'https:' && lc.settings.widgetHosts.includes(u.host)) [widgetUrl, widgetHost] = [u.href, u.host];
  } catch {
    // Not a URL: the page goes without the Talkdesk header.
  }
  html(
    lc,
    ctx,
    200,
    (n) =>
      appPage({
        nonce: n,
        userName: session.name ?? session.email ?? session.talkdeskUserId,
        email: session.email,
        role: session.role,
        accountName: account?.name ?? rec.accountName ?? session.accountId,
        licensedUsers,
        plan: planText(account),
        starter,
        csrfToken: csrfFor(current.id),
        widgetUrl,
      }),
    widgetHost ? [widgetHost] : [],
  );
}

/** POST /app/logout: ends the session (CSRF token of the page's form required), 303 to the signed-out page. */
export async function appLogout(lc: LaunchContext, ctx: Context): Promise<void> {
  let form: URLSearchParams;
  try {
    form = new URLSearchParams((await readRawBody(ctx.req, 4096, 5_000)).toString('utf8'));
  } catch {
    return html(lc, ctx, 400, (n) =>
      simplePage(n, 'Sign-out failed', 'The form could not be read. Go back to the app and sign out again.'),
    );
  }
  const id = readCookie(ctx, SESSION_COOKIE);
  const given = form.get('csrf') ?? '';
  if (id && !sameText(given, csrfFor(id))) {
    // Not this session's token: a page of an earlier sign-in in this browser (the app opened again since in another
    // tab), or a forged form. Nothing is ended; the answer asks again with this session's token, which only a page of
    // this origin can read, so a forged form still ends nothing without the user's click here.
    return html(lc, ctx, 403, (n) => signOutConfirmPage(n, csrfFor(id)));
  }
  // Without the cookie (another site's form: SameSite keeps it back) nothing is cleared, so such a
  // form cannot sign the user out by its answer's Set-Cookie.
  if (id) {
    // The cookie goes all the same (a shared workstation's next user must not find the session): with the store out,
    // the session's record waits for its expiry, unreachable without the cookie.
    clearCookie(ctx, SESSION_COOKIE, cookieBase(lc, '/'));
    await lc.sessions.end(id).catch((err: unknown) => lc.logger.warn({ err }, 'sign-out: the session could not be ended in the store'));
  }
  redirectTo(ctx, 303, SIGNED_OUT_PATH);
}

export function signedOut(lc: LaunchContext, ctx: Context): void {
  html(lc, ctx, 200, signedOutPage);
}

/** The app's pages answer an HTML page on our own failure (MongoDB down), never the callback's JSON. */
export async function pageOrError(
  lc: LaunchContext,
  ctx: Context,
  handler: (lc: LaunchContext, ctx: Context) => Promise<void>,
): Promise<void> {
  try {
    await handler(lc, ctx);
  } catch (err) {
    lc.logger.error({ error: err instanceof Error ? err.name : 'unknown', path: ctx.path }, 'app page failed');
    html(lc, ctx, 503, (n) =>
      simplePage(
        n,
        'Please try again',
        `The app cannot answer right now. Try again in a minute; if it keeps happening, contact ${lc.settings.supportContact}.`,
      ),
    );
  }
}
