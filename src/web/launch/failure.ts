import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { isStoreOutage } from '../../store';
import type { LaunchContext } from './context';
import { failurePage, tooManyFailuresPage } from './pages';
import { FAILURE_REASONS, SsoFailure } from './reasons';
import { framingOf, nonce, pageHeaders } from './http';

const SAFE_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The failures a request's sender causes (a made-up installation id, a stale or forged state, an OAuth
 * error): the only ones the failed sign-in budget counts. Ours or Talkdesk's (a store or Talkdesk down,
 * an inactive installation, an unlicensed agent clicking the app) never lock out a source: a contact
 * centre behind one address would lose every sign-in for an outage it did not cause.
 */
const SENDER_CAUSED: ReadonlySet<string> = new Set(['unknown_installation', 'state_invalid', 'oauth_error']);
/** Details of those reasons that the service caused (a rotation destroyed the client the sign-in asked for): not counted. */
const OURS: ReadonlySet<string> = new Set(['client_rotated']);
/** Talkdesk's authorization server answered `server_error` or `temporarily_unavailable`: its own, larger budget (failure-budget.ts). */
export const TALKDESK_UNAVAILABLE = 'talkdesk_unavailable';

/**
 * Answers a failed sign-in: the HTML page with its status, and the record of it (MongoDB,
 * metric, log line) under one reference id. Never a redirect, never a stack trace.
 */
export async function answerFailure(lc: LaunchContext, ctx: Context, err: unknown): Promise<void> {
  const failure =
    err instanceof SsoFailure
      ? err
      : // MongoDB down or cut off: a moment's outage, not our fault to investigate (as /app answers it).
        new SsoFailure(isStoreOutage(err) ? 'store_unavailable' : 'internal_error', {
          detail: err instanceof Error ? err.name : 'unknown',
        });
  const { reason, facts } = failure;
  const status = FAILURE_REASONS[reason].status;
  const referenceId = `sso-${randomBytes(6).toString('hex')}`;
  const oauthError = facts.oauthError && SAFE_CODE.test(facts.oauthError) ? facts.oauthError : undefined;
  const detail = facts.detail && SAFE_CODE.test(facts.detail) ? facts.detail : undefined;
  // Past the source's budget (parallel failures): answered as refused, not recorded.
  if (lc.failedSignIns && SENDER_CAUSED.has(reason) && !OURS.has(facts.detail ?? '')) {
    const decision = lc.failedSignIns.failed(ctx, facts.detail === TALKDESK_UNAVAILABLE ? 'talkdesk' : 'sender');
    if (!decision.allowed) return answerTooMany(lc, ctx, decision.retryAfterSeconds);
  }
  lc.ssoTotal.inc({ outcome: reason });
  const log = { referenceId, reason, status, installationId: facts.installationId, accountId: facts.accountId, oauthError, detail };
  if (reason === 'internal_error') lc.logger.error({ ...log, err }, 'sign-in failed');
  else lc.logger.warn(log, 'sign-in failed');
  await lc.failures
    .record({
      _id: referenceId,
      reason,
      status,
      at: new Date(),
      ...(facts.installationId ? { installationId: facts.installationId } : {}),
      ...(facts.accountId ? { accountId: facts.accountId } : {}),
      ...(oauthError ? { oauthError } : {}),
      ...(detail ? { detail } : {}),
    })
    .catch((e: unknown) =>
      lc.logger.warn({ referenceId, error: e instanceof Error ? e.name : 'unknown' }, 'sign-in failure not recorded in MongoDB'),
    );
  const n = nonce();
  pageHeaders(ctx, { nonce: n, ...framingOf(lc.settings) });
  ctx.status = status;
  if (reason === 'store_unavailable') ctx.set('Retry-After', '30');
  // Talkdesk's own pause, at most ten minutes (a larger one is not trusted); 60 s when it gave none.
  if (reason === 'talkdesk_busy') ctx.set('Retry-After', String(Math.min(facts.retryAfterSeconds ?? 60, 600)));
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = failurePage({ reason, referenceId, supportContact: lc.settings.supportContact, accountName: facts.accountName, nonce: n });
}

/**
 * True when the request's source spent its failed sign-in budget, having answered it 429:
 * no store read or write and no log line (a flood must not become one), only the metric.
 */
export function refuseSpentSource(lc: LaunchContext, ctx: Context): boolean {
  const decision = lc.failedSignIns?.check(ctx);
  if (!decision || decision.allowed) return false;
  answerTooMany(lc, ctx, decision.retryAfterSeconds);
  return true;
}

/**
 * True when the request cannot be a sign-in, having answered it a bare 400: the browser says it is no navigation
 * (an image, script or fetch another site's page makes: `Sec-Fetch-Mode`, which no page can set), or, with cookies
 * SameSite=Lax (the pages are never framed then), no top-level one (`Sec-Fetch-Dest`). Such requests spend no token of
 * the source's failed sign-in budget: one page open in an office's browser must not lock out the office behind its
 * address. Nothing is read, written or logged; a client that sends no `Sec-Fetch-Site` (no browser, or an old one) is
 * judged as before.
 */
export function refuseNonNavigation(lc: LaunchContext, ctx: Context): boolean {
  // Browsers send the three together; a client that is no browser (Node's fetch sends `Sec-Fetch-Mode: cors` alone)
  // is judged as before.
  if (ctx.get('Sec-Fetch-Site') === '') return false;
  const dest = ctx.get('Sec-Fetch-Dest');
  const topLevelOnly = lc.settings.sameSite === 'lax';
  if (ctx.get('Sec-Fetch-Mode') === 'navigate' && (!topLevelOnly || dest === '' || dest === 'document')) return false;
  lc.ssoTotal.inc({ outcome: NOT_A_NAVIGATION });
  ctx.status = 400;
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'text/plain; charset=utf-8';
  ctx.body = 'Not a sign-in: open the app from Talkdesk.\n';
  return true;
}

/** The metric outcome of a request refused by refuseNonNavigation. */
export const NOT_A_NAVIGATION = 'not_a_navigation';

function answerTooMany(lc: LaunchContext, ctx: Context, retryAfterSeconds: number): void {
  lc.ssoTotal.inc({ outcome: 'rate_limited' });
  const n = nonce();
  pageHeaders(ctx, { nonce: n, ...framingOf(lc.settings) });
  ctx.set('Retry-After', String(retryAfterSeconds));
  ctx.status = 429;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = tooManyFailuresPage({ nonce: n, retryAfterSeconds, supportContact: lc.settings.supportContact });
}
