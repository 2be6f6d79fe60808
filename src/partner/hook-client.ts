import { PartnerCancelledError } from './provisioner';
import { GENERIC_REFUSAL, PartnerRefusedError, PartnerUnavailableError, PartnerUnreachableError, sanitiseReason } from './errors';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signHook, signHookTimed, TIMED_SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signature';

export interface HookClientOptions {
  /** PARTNER_HOOKS_URL: trusted configuration, so no allow-list or private-address guard. */
  url: string;
  /** PARTNER_HOOKS_SECRET's secrets; the first signs. */
  secrets: readonly string[];
  timeoutMs: number;
  /** The clock (a test moves it past the 409 window). */
  now?: () => number;
}

/** What a 2xx answer may say. */
export interface HookAnswer {
  status: number;
  partnerAccountId?: string;
}

const MAX_ANSWER_BYTES = 64 * 1024;
/**
 * How long a key answered 409 without a reason is taken as "still in progress" and retried: past it,
 * a refusal. Some calls (a revert, a deprovision past its deadline) retry without a deadline, and a
 * backend that answers a bare 409 for good would hold the installation's workflow behind them forever.
 */
export const CONFLICT_RETRY_MS = 10 * 60 * 1000;
/** Keys remembered for that window (the oldest forgotten first). */
const MAX_CONFLICT_KEYS = 10_000;
const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

/** `Retry-After` in seconds or as an HTTP date, bounded. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const secs = Number(value.trim());
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** Thrown by answerText when the answer broke off (a reset, a cut chunked body, the timeout): not all of it was read. */
class AnswerBrokenOff extends Error {}

/**
 * The answer's text; past the limit, what was read until then (cut: not JSON, but a proxy's large login page still
 * shows it is one). Read as it arrives: a partner (or a proxy) streaming a large or endless answer is not read whole.
 * An answer that breaks off throws AnswerBrokenOff: its start alone could pass a proxy's page for the partner's 2xx.
 */
async function answerText(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return Buffer.concat(chunks).toString('utf8');
      if (size + value.byteLength > MAX_ANSWER_BYTES) {
        // The chunk that crosses the limit counts up to it (one chunk can hold the whole page).
        chunks.push(value.subarray(0, MAX_ANSWER_BYTES - size));
        await reader.cancel().catch(() => undefined);
        return Buffer.concat(chunks).toString('utf8');
      }
      size += value.byteLength;
      chunks.push(value);
    }
  } catch {
    throw new AnswerBrokenOff();
  }
}

/** The answer's JSON object; {} when it is empty or not a JSON object. */
function parseAnswer(text: string): Record<string, unknown> {
  if (text.length === 0) return {};
  try {
    // A byte order mark some frameworks put first is not part of the JSON (fetch's own .json() drops it too).
    const parsed: unknown = JSON.parse(text.replace(/^\uFEFF/, ''));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * A byte order mark, an XML declaration (XHTML), comments and space may come before the doctype or `<html>`. A
 * comment never spans a `-->`: each matches one way, so many comments cannot make the test backtrack for long.
 */
const PAGE_START = /^\uFEFF?\s*(<\?xml[^>]*\?>\s*)?(<!--(?:(?!-->)[\s\S])*-->\s*)*(<!doctype\s+html|<html[\s>])/i;
/**
 * A web page: what a proxy or login page in front of the partner answers, never the partner's own
 * answer to a hook. An HTML document, not merely text/html: frameworks label a bare `OK` so.
 */
const isPage = (res: Response, text: string): boolean =>
  /^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/i.test(res.headers.get('content-type') ?? '') && PAGE_START.test(text.slice(0, 1_024));

/**
 * Sends one signed hook and says what its answer means: 2xx done, unless it is a web
 * page (an HTML document served as text/html: a proxy or login page in front of the partner, which says nothing of
 * whether the partner took the hook; retried with the same id); 408, 429, 5xx, a
 * timeout or a connection error retryable (PartnerUnavailableError), and a 409 without
 * a reason (an earlier request with the same key still in progress) for CONFLICT_RETRY_MS; any other
 * 4xx final (PartnerRefusedError, with the answer's `reason`); a redirect is not
 * followed and counts as retryable (the URL is misconfigured: fix it and the retry
 * succeeds). Error messages never hold the body or the secret.
 */
export class HookClient {
  /** When each key first met a bare 409 (this process; a restarted worker starts the window again). */
  private readonly conflictSince = new Map<string, number>();

  constructor(private readonly opts: HookClientOptions) {
    if (opts.secrets.length === 0) throw new Error('HookClient needs at least one secret (PARTNER_HOOKS_SECRET)');
  }

  async send(rawBody: string, id: string, signal: AbortSignal): Promise<HookAnswer> {
    if (signal.aborted) throw new PartnerCancelledError();
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const secret = this.opts.secrets[0] as string;
    // Each attempt is stamped anew, so a partner can refuse an old hook replayed (docs/partner.md).
    const timestamp = String(Math.floor(Date.now() / 1000));
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.any([signal, timeout]),
        headers: {
          'content-type': 'application/json',
          [IDEMPOTENCY_HEADER]: id,
          [SIGNATURE_HEADER]: signHook(rawBody, secret),
          [TIMESTAMP_HEADER]: timestamp,
          [TIMED_SIGNATURE_HEADER]: signHookTimed(rawBody, id, timestamp, secret),
        },
        body: rawBody,
      });
    } catch {
      if (signal.aborted) throw new PartnerCancelledError();
      if (timeout.aborted) throw new PartnerUnreachableError(`the partner did not answer within ${this.opts.timeoutMs} ms`);
      throw new PartnerUnreachableError(
        'could not reach the partner (connection refused or reset): check PARTNER_HOOKS_URL and the partner service',
      );
    }
    const status = res.status;
    if (status !== 409) this.conflictSince.delete(id);
    if (status >= 200 && status < 300) {
      const text = await answerText(res).catch((err: unknown) => {
        if (!(err instanceof AnswerBrokenOff)) throw err;
        if (signal.aborted) throw new PartnerCancelledError();
        // Taken as done, a page cut short (a proxy's) or a JSON answer without its partner_account_id would be kept.
        throw new PartnerUnavailableError(
          `the partner answered ${status} but its answer broke off before its end (connection reset, or PARTNER_HOOKS_TIMEOUT_MS): retried with the same id`,
        );
      });
      if (isPage(res, text)) {
        throw new PartnerUnavailableError(
          `the partner answered ${status} with a web page (text/html), such as a proxy's or a login page: not taken as done, ` +
            'retried (a hook is done on a 2xx that is not a page; check PARTNER_HOOKS_URL reaches your backend itself)',
        );
      }
      const answer = parseAnswer(text);
      const partnerAccountId = typeof answer.partner_account_id === 'string' ? sanitiseReason(answer.partner_account_id, '') : '';
      return { status, ...(partnerAccountId ? { partnerAccountId } : {}) };
    }
    if (status === 408 || status === 429 || status >= 500) {
      await res.body?.cancel().catch(() => undefined);
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      throw new PartnerUnavailableError(`the partner answered ${status}`, retryAfterMs);
    }
    if (status >= 300 && status < 400) {
      await res.body?.cancel().catch(() => undefined);
      throw new PartnerUnavailableError(
        `the partner answered a redirect (${status}), which is not followed: set PARTNER_HOOKS_URL to the final address`,
      );
    }
    const answer = parseAnswer(await answerText(res).catch(() => '')); // a reason cut short: none
    // Idempotency middleware (the IETF Idempotency-Key draft, Stripe's) answers 409 while an earlier
    // request with the same key is still being processed: our retry after a timeout meets it. Taken
    // as final, it rejected and undid an install the partner was completing. A refusal gives a reason.
    if (status === 409 && sanitiseReason(answer.reason, '') === '' && this.stillInProgress(id)) {
      throw new PartnerUnavailableError(
        'the partner answered 409 without a reason: taken as an earlier request with this idempotency-key still in progress, ' +
          `retried for ${CONFLICT_RETRY_MS / 60_000} minutes (to refuse a call, answer a 4xx with a "reason")`,
        parseRetryAfter(res.headers.get('retry-after')),
      );
    }
    this.conflictSince.delete(id);
    // Without a reason, the status is all there is to go by (a 401 or 403: check PARTNER_HOOKS_SECRET).
    throw new PartnerRefusedError(sanitiseReason(answer.reason, `${GENERIC_REFUSAL} (HTTP ${status})`), status);
  }

  /** A bare 409 for this key is still within its window (the first one starts it). */
  private stillInProgress(id: string): boolean {
    const now = (this.opts.now ?? Date.now)();
    let since = this.conflictSince.get(id);
    if (since === undefined) {
      if (this.conflictSince.size >= MAX_CONFLICT_KEYS) this.conflictSince.delete(this.conflictSince.keys().next().value as string);
      this.conflictSince.set(id, (since = now));
    }
    return now - since < CONFLICT_RETRY_MS;
  }
}
