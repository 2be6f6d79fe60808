import type { Context } from 'koa';
import { ID_PATTERN } from '../../events/fields';
import { signHandoffToken, type HandoffIdentity } from '../../sso/handoff';
import { idTokenNonce } from '../../sso/id-token';
import { SEALED_COOKIE_MAX } from '../../sso/sealed-state';
import { STATE_TTL_MS } from '../../sso/state-store';
import { randomId } from '../../store/sessions';
import type { InstallationRecord } from '../../store/installations';
import type { SsoLinksRecord } from '../../store/sso-links';
import { TalkdeskHttpError } from '../../talkdesk/errors';
import { cookieBase, type LaunchContext } from './context';
import { answerFailure, TALKDESK_UNAVAILABLE } from './failure';
import {
  clearCookie,
  framingOf,
  nonce,
  pageHeaders,
  readCookie,
  redirectTo,
  sameText,
  SESSION_COOKIE,
  setCookie,
  SSO_COOKIE,
} from './http';
import { endedBy, LOGOUT_CLOCK_ALLOWANCE_MS } from './ended-by';
import { licensedUser, refreshFromTalkdesk, roleOf } from './licensing';
import { handoffPage } from './pages';
import { SsoFailure, talkdeskFailure } from './reasons';

export const LAUNCH_PATH = '/launch';
export const SSO_CALLBACK_PATH = '/sso/callback';
const USABLE_PHASES = new Set(['active', 'updating']);
// The partner's own value (partner_state): what the hand-off documents.
const ID = /^[A-Za-z0-9_-]{1,128}$/;

const one = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The installation, when known and in a phase a user may sign in to, with its sign-in links
 * read alongside (unless `readLinks` is false: the caller has them). `read`: its record, when
 * the caller started reading it already.
 */
async function usableInstallation(
  lc: LaunchContext,
  installationId: string | undefined,
  readLinks = true,
  read?: Promise<InstallationRecord | null>,
): Promise<{ rec: InstallationRecord; links: SsoLinksRecord | null }> {
  if (!installationId || !ID_PATTERN.test(installationId)) throw new SsoFailure('unknown_installation', { detail: 'bad_installation_id' });
  const [rec, links] = await Promise.all([
    read ?? lc.store.installations.get(installationId),
    readLinks ? lc.links.get(installationId) : Promise.resolve(null),
  ]);
  const facts = { installationId, accountId: rec?.accountId, accountName: rec?.accountName };
  // No record: unknown. An install's workflow records it (phase `installing`) in its first
  // step, before anything else, and Talkdesk offers the app only once it is approved: the
  // sub-second gap after the event's acknowledgement needs no lookup of its own (docs/launch.md).
  if (!rec) throw new SsoFailure('unknown_installation', { installationId });
  if (!USABLE_PHASES.has(rec.phase)) throw new SsoFailure('installation_inactive', { ...facts, detail: rec.phase });
  return { rec, links };
}

/** GET /launch: the standalone URL. No page, no click: 302 to the installation's authorization link. */
export async function launch(lc: LaunchContext, ctx: Context): Promise<void> {
  try {
    const { rec, links } = await usableInstallation(lc, one(ctx.query.talkdesk_installation_id));
    const facts = { installationId: rec._id, accountId: rec.accountId, accountName: rec.accountName };
    if (!links?.authorization || !rec.activeClientId) throw new SsoFailure('installation_inactive', { ...facts, detail: 'no_sso_links' });
    let target: URL;
    try {
      target = new URL(lc.talkdesk.allowedUrl(links.authorization).href);
    } catch {
      throw new SsoFailure('internal_error', { ...facts, detail: 'authorization_link_not_allowed' });
    }
    const nonceValue = randomId();
    const hint = one(ctx.query.talkdesk_user_id);
    const userHint = hint && ID_PATTERN.test(hint) ? hint : undefined;
    const partnerState = one(ctx.query.partner_state);
    if (partnerState !== undefined && !ID.test(partnerState))
      throw new SsoFailure('state_invalid', { ...facts, detail: 'bad_partner_state' });
    // Kept by the browser, sealed (src/sso/sealed-state.ts): nothing is written here.
    const { state, cookie } = lc.signInStates.issue({
      installationId: rec._id,
      nonce: nonceValue,
      userHint,
      ...(partnerState ? { partnerState } : {}),
      links: { tokens: links.tokens, userinfo: links.userinfo, widgetUrl: links.widgetUrl },
      clientId: rec.activeClientId,
    });
    target.searchParams.set('client_id', rec.activeClientId);
    target.searchParams.set('redirect_uri', `${lc.baseUrl()}${SSO_CALLBACK_PATH}`);
    target.searchParams.set('response_type', 'code');
    target.searchParams.set('scope', lc.settings.scopes.join(' '));
    target.searchParams.set('state', state);
    target.searchParams.set('nonce', nonceValue);
    // Only for a launch that goes on to Talkdesk: a forged link to /launch with a bad id signs no one out (one naming
    // a usable installation does, docs/launch.md: the price of leaving no earlier user's session behind).
    await endBrowserSession(lc, ctx);
    setCookie(ctx, SSO_COOKIE, cookie, { ...cookieBase(lc, SSO_CALLBACK_PATH), maxAgeSeconds: STATE_TTL_MS / 1000 });
    // Debug only: the happy path's per-request lines cost CPU on every sign-in (docs/performance.md); failures warn.
    lc.logger.debug({ installationId: rec._id, talkdeskUserIdHint: userHint }, 'launch: sent to Talkdesk sign-in');
    redirectTo(ctx, 302, target.href);
  } catch (err) {
    await answerFailure(lc, ctx, err);
  }
}

/**
 * A launch may come from another Talkdesk user in the same browser (talkdesk-sso.md 1.3): the session the browser
 * holds ends first, so that a sign-in that fails or is never finished leaves no earlier user's session for /app.
 */
async function endBrowserSession(lc: LaunchContext, ctx: Context): Promise<void> {
  const previous = dropSessionCookie(lc, ctx);
  if (!previous) return;
  // The cookie goes all the same: the store out, the launch fails next and says so.
  await lc.sessions
    .end(previous)
    .catch((err: unknown) => lc.logger.warn({ err }, "launch: the browser's earlier session could not be ended"));
}

/** Clears the session cookie a launch finds (its id returned, to end it): also for a launch refused 429, with no store write. */
export function dropSessionCookie(lc: LaunchContext, ctx: Context): string | undefined {
  const previous = readCookie(ctx, SESSION_COOKIE);
  if (previous) clearCookie(ctx, SESSION_COOKIE, cookieBase(lc, '/'));
  return previous;
}

/** GET /sso/callback: the redirect URL. Checks state, exchanges the code, authorizes, then opens a session or hands off. */
export async function ssoCallback(lc: LaunchContext, ctx: Context): Promise<void> {
  // The sealed state (sealed-state.ts), or the random browser id of a stored state of an earlier version.
  const ssoCookie = readCookie(ctx, SSO_COOKIE, SEALED_COOKIE_MAX);
  try {
    const state = one(ctx.query.state);
    if (!state) throw new SsoFailure('state_invalid', { detail: 'missing' });
    // The installation the state names (under its MAC) is read while the state is spent: one
    // round trip less on the way, used only once the state is accepted and names it.
    const named = lc.signInStates.installationOf(state);
    const early = named ? lc.store.installations.get(named) : undefined;
    early?.catch(() => undefined);
    const checked = await lc.signInStates.consume(state, ssoCookie);
    // Cleared once it opened for this state. Kept when it did not: it may be another sign-in's (the app
    // opened twice in this browser, the later one's cookie replaced the earlier's, and its callback,
    // still to come, needs it); one never trusted expires in 10 minutes or is replaced by the next /launch.
    if (checked.ok || checked.why === 'expired' || checked.why === 'replayed')
      clearCookie(ctx, SSO_COOKIE, cookieBase(lc, SSO_CALLBACK_PATH));
    if (!checked.ok) throw new SsoFailure('state_invalid', { installationId: checked.installationId, detail: checked.why });
    // A state made by /launch carries the links it read; one from an earlier version does not.
    const { rec, links: read } = await usableInstallation(
      lc,
      checked.installationId,
      !checked.links,
      named === checked.installationId ? early : undefined,
    );
    const links = checked.links ?? read;
    const facts = { installationId: rec._id, accountId: rec.accountId, accountName: rec.accountName };
    const oauthError = one(ctx.query.error);
    if (oauthError !== undefined) {
      // Talkdesk's own trouble (RFC 6749 4.1.2.1), if the sender says true: a budget of its own, larger (failure-budget.ts).
      const talkdesks = oauthError === 'server_error' || oauthError === 'temporarily_unavailable';
      throw new SsoFailure('oauth_error', { ...facts, oauthError, ...(talkdesks ? { detail: TALKDESK_UNAVAILABLE } : {}) });
    }
    const code = one(ctx.query.code);
    if (!code) throw new SsoFailure('oauth_error', { ...facts, detail: 'no_code' });

    // The code was issued to the client /launch asked for: a rotation since (the set retiring, still usable)
    // must not have it exchanged by the new one, which Talkdesk refuses (invalid_grant).
    const rotated = checked.clientId !== undefined && checked.clientId !== rec.activeClientId;
    // Read from the store, not the cache: a set cached before a compromised rotation destroyed it would pass for a minute.
    if (rotated) lc.credentials.forget(rec._id, checked.clientId!);
    const asked = rotated ? await lc.credentials.usable(rec._id, checked.clientId!) : undefined;
    // That set destroyed since (a compromised rotation): no other client can exchange the code (Talkdesk binds it to the
    // client it was issued to), so none is sent; a new launch asks for the active one.
    if (rotated && !asked) throw new SsoFailure('state_invalid', { ...facts, detail: 'client_rotated' });
    const creds = asked ?? (rec.activeClientId ? await lc.credentials.usable(rec._id, rec.activeClientId) : undefined);
    if (!creds) throw new SsoFailure('installation_inactive', { ...facts, detail: 'no_credentials' });
    const tokenUrl = links?.tokens ?? creds.tokenUrl;
    const userinfoUrl = links?.userinfo ?? (rec.links.root ? `${rec.links.root.replace(/\/+$/, '')}/users/me` : undefined);
    if (!userinfoUrl) throw new SsoFailure('installation_inactive', { ...facts, detail: 'no_userinfo_link' });

    // The hinted user's mapping is read during the Talkdesk calls; used only if /users/me names that user.
    const hinted =
      checked.userHint && rec.accountId ? lc.store.accounts.users.findOne({ _id: `${rec.accountId}:${checked.userHint}` }) : undefined;
    hinted?.catch(() => undefined);
    let userToken: string;
    let idToken: string | undefined;
    try {
      const granted = await lc.talkdesk.exchangeAuthorizationCode({
        tokenUrl,
        clientId: creds.clientId,
        code,
        redirectUri: `${lc.baseUrl()}${SSO_CALLBACK_PATH}`,
        auth:
          lc.settings.clientAuth === 'client_secret_basic'
            ? { method: 'client_secret_basic', clientSecret: creds.secret.clientSecret }
            : { method: 'private_key_jwt', keyId: creds.keyId, algorithm: creds.keyAlgorithm, privateKey: creds.secret.privateKey },
      });
      userToken = granted.accessToken;
      idToken = granted.idToken;
    } catch (err) {
      // A code Talkdesk does not know (made up, spent, expired: RFC 6749's invalid_grant) is the sender's
      // failure, counted against its budget as an OAuth error: else a loop of /launch and made-up codes
      // sent Talkdesk a signed token request each, unbounded. The credentials are fine: kept.
      // Not when the client /launch asked for could not be used (destroyed since): then the refusal is ours.
      const ownClient = !checked.clientId || checked.clientId === creds.clientId;
      if (err instanceof TalkdeskHttpError && err.code === 'invalid_grant' && ownClient)
        throw new SsoFailure('oauth_error', { ...facts, oauthError: 'invalid_grant', detail: 'token_invalid_grant' });
      lc.credentials.forget(creds.installationId, creds.clientId);
      // Refused because the set was destroyed meanwhile (a compromised rotation's switch destroys it before the record
      // names the new one, and the cache held it): the refusal is ours, and a new launch asks for the active set.
      const destroyed =
        err instanceof TalkdeskHttpError &&
        err.status === 401 &&
        !(await lc.credentials.usable(rec._id, creds.clientId).catch(() => creds));
      if (destroyed) throw new SsoFailure('state_invalid', { ...facts, detail: 'client_rotated' });
      throw talkdeskFailure(err, facts, 'token');
    }
    // A code obtained for another sign-in (injected into this browser) carries that sign-in's nonce.
    const idNonce = idToken ? idTokenNonce(idToken) : undefined;
    if (idNonce !== undefined && checked.nonce && !sameText(idNonce, checked.nonce))
      throw new SsoFailure('state_invalid', { ...facts, detail: 'nonce_mismatch' });
    let info: Awaited<ReturnType<typeof lc.talkdesk.getUserInfo>>;
    try {
      info = await lc.talkdesk.getUserInfo(userinfoUrl, userToken);
    } catch (err) {
      throw talkdeskFailure(err, facts, 'userinfo');
    }
    // The user token is not kept: identity is all the sign-in needed from it.
    const talkdeskUserId = info.id ?? info.sub;
    // The launch's user-id hint is never trusted: a difference is only worth a log line.
    if (checked.userHint && checked.userHint !== talkdeskUserId) {
      lc.logger.warn(
        { installationId: rec._id, talkdeskUserId, talkdeskUserIdHint: checked.userHint },
        'sign-in: /users/me differs from the launch hint; the verified user is used',
      );
    }
    const mapping = await licensedUser(lc, rec, talkdeskUserId, talkdeskUserId === checked.userHint ? hinted : undefined);
    const who = {
      talkdeskUserId,
      accountId: rec.accountId ?? mapping.accountId,
      installationId: rec._id,
      name: info.name || mapping.name,
      email: info.email || mapping.email,
      role: roleOf(mapping),
    };
    // A user.logout, a removal or an uninstall Talkdesk sent while this sign-in ran (ended-by.ts). Read after
    // the session is written (the callback writes its mark before it ends sessions), so that one of the two
    // always sees the other.
    const began = new Date(checked.issuedAt.getTime() - LOGOUT_CLOCK_ALLOWANCE_MS);
    const endedMeanwhile = async () => {
      const marks = await lc.sessions.endingMarks(rec._id, talkdeskUserId);
      const ended = endedBy(marks, { began, mapping, rec, facts });
      // A removal not applied yet: Talkdesk's list decides (delivered out of order, the removal may be older
      // than the update that added the user back, which wrote nothing new to the mapping). Listed, the
      // mapping is written as of now and outdates the mark.
      if (ended?.facts.detail !== 'removal_pending') return ended;
      // Returned, not thrown: the caller ends the session it opened (Talkdesk refusing or unreachable ends it too).
      // A read begun since the removal was marked is shared (each click made a full read of Talkdesk's list).
      const listed = await refreshFromTalkdesk(lc, rec, talkdeskUserId, { notBefore: marks.removedAt }).catch((err: unknown) =>
        err instanceof SsoFailure ? err : ended,
      );
      if (listed !== true) return listed === false ? ended : listed;
      return endedBy({ ...marks, removedAt: undefined, removalEventAt: undefined }, { began, mapping, rec, facts });
    };
    const signedIn = () => {
      lc.ssoTotal.inc({ outcome: 'ok' });
      // The audit line of a sign-in (who, where, when) stays at info; /launch's line is at debug.
      lc.logger.info({ installationId: rec._id, talkdeskUserId, role: who.role, handoff: Boolean(lc.settings.appHomeUrl) }, 'signed in');
    };
    if (lc.settings.appHomeUrl) {
      const ended = await endedMeanwhile();
      if (ended) throw ended;
      // auth_time: a user.logout may reach the partner before this token does (docs/launch.md).
      const authTime = Math.floor(checked.issuedAt.getTime() / 1000);
      await handOff(lc, ctx, { ...who, authTime, ...(checked.partnerState ? { partnerState: checked.partnerState } : {}) });
      // Counted once the page is built: the hand-off's read of the account can still fail (store_unavailable).
      return signedIn();
    }
    // The widget link goes with the session ('' when none), so /app need not read the links.
    const widgetUrl = links?.widgetUrl ?? '';
    const sessionId = await lc.sessions.open({ ...who, widgetUrl, signInAt: checked.issuedAt }, lc.settings.sessionTtlMs);
    const ended = await endedMeanwhile();
    if (ended) {
      await lc.sessions.end(sessionId);
      throw ended;
    }
    signedIn();
    setCookie(ctx, SESSION_COOKIE, sessionId, { ...cookieBase(lc, '/'), maxAgeSeconds: Math.floor(lc.settings.sessionTtlMs / 1000) });
    redirectTo(ctx, 303, '/app');
  } catch (err) {
    await answerFailure(lc, ctx, err);
  }
}

async function handOff(lc: LaunchContext, ctx: Context, who: Omit<HandoffIdentity, 'partnerAccountId'>): Promise<void> {
  const home = lc.settings.appHomeUrl ?? '';
  const key = lc.settings.signingKeys[0];
  if (!key) throw new SsoFailure('internal_error', { installationId: who.installationId, detail: 'no_signing_key' });
  const account = await lc.store.accounts.getAccount(who.accountId);
  const partnerAccountId = (account as { partnerAccountId?: unknown } | null)?.partnerAccountId;
  const token = await signHandoffToken(
    key,
    { ...who, ...(typeof partnerAccountId === 'string' ? { partnerAccountId } : {}) },
    { issuer: lc.baseUrl(), appHomeUrl: home },
  );
  const n = nonce();
  pageHeaders(ctx, { nonce: n, formAction: new URL(home).origin, ...framingOf(lc.settings, { listedOnly: true }) });
  ctx.status = 200;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = handoffPage({ nonce: n, action: home, token });
}
