import type { Context } from 'koa';
import { MongoError } from 'mongodb';
import type { Keyring } from '../crypto/secrets';
import { extractCredentials, parseEvent, toLifecycleEvent } from '../events/schemas';
import { isUserLogoutBody } from '../events/user-logout';
import type { Logger } from '../logging/logger';
import type { InboxStore, InsertOutcome } from '../handover/inbox';
import { NotDurableYetError } from '../store/db';
import type { Dispatch } from '../handover/start';
import { sealEventCredentials } from '../store/event-credentials';
import { temporalCallFailure } from '../temporal/connect-errors';
import { workflowIdFor } from '../../workflows/definitions';
import { storeUnavailableMessage } from './store-unavailable';
import type { CallbackLaunchHooks } from './launch/callback-hooks';
import type { WebMetrics } from './metrics';
import { checkEventTime, type EventTimeLimits } from './event-time';
import { DEFAULT_JSON_LIMITS, checkJsonShape, describeShapeProblem, findUnsafeJson, type JsonLimits } from './json-limits';
import { bodyShareKey, type CallbackLimiter } from './callback-limits';
import type { RateDecision } from './rate-limit';
import { BodiesBusyError, BodyTimeoutError, BodyTooLargeError, readRawBody, type BodyBytesInFlight } from './raw-body';
import type { EcdsaPublicKeys, HubAlgorithm } from './signature';
import { DEFAULT_SIGNATURE_SCHEMES, expectedSignatureText, verifyCallbackSignature, type SignatureScheme } from './signature-schemes';

/** Talkdesk delivers an event again 5 and 10 minutes after a failed delivery (talkdesk-api.md); then some slack. */
const AFTER_REDELIVERIES_MS = 16 * 60_000;

export interface CallbackDeps {
  appId: string;
  webhookSecrets: string[];
  skipSignatureCheck: boolean;
  bodyLimitBytes: number;
  bodyTimeoutMs: number;
  /** The bytes all bodies being read may hold at once (server.ts); unbounded when not given. */
  bodiesInFlight?: BodyBytesInFlight;
  keyring: Keyring;
  inbox: InboxStore;
  dispatch: Dispatch;
  /** Hands over an event stored before (a redelivery); `dispatch` when not given. */
  redispatch?: Dispatch;
  /** A hand-over the store could neither mark nor queue: the dispatcher marks it later. */
  markLater?: (eventId: string, mark: Parameters<InboxStore['markDispatched']>[1]) => void;
  logger: Logger;
  metrics?: WebMetrics;
  /** Signature schemes accepted (CALLBACK_SIGNATURE_SCHEMES); DEFAULT_SIGNATURE_SCHEMES when not given. */
  signatureSchemes?: readonly SignatureScheme[];
  /** HMAC algorithms accepted (CALLBACK_HMAC_ALGORITHMS); sha256 and sha512 when not given. */
  hmacAlgorithms?: readonly HubAlgorithm[];
  /** How far ahead or behind our clock an event's created_at may be; DEFAULT_EVENT_TIME_LIMITS when not given. */
  eventTimeLimits?: Partial<EventTimeLimits>;
  /** Keys for the ecdsa scheme, by X-Hub-Ecdsa-Signature-Id (TALKDESK_ECDSA_PUBLIC_KEYS). */
  ecdsaPublicKeys?: EcdsaPublicKeys;
  /** Depth and width limits of the JSON body; DEFAULT_JSON_LIMITS for what is not given. */
  jsonLimits?: Partial<JsonLimits>;
  /** Per-source budgets of signed and of unauthenticated requests; none when not given. */
  rateLimiter?: CallbackLimiter;
  /** Launch (docs/launch.md): sign-in links, sessions an event ends, and `user.logout`. */
  launch?: CallbackLaunchHooks;
}

/** An error's name and code only: its message could quote what the client sent. */
export function errorCode(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown';
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? `${err.name} ${code}` : err.name;
}

function answer(ctx: Context, status: number, body: Record<string, unknown>): void {
  ctx.status = status;
  ctx.body = body;
}

function refuse(ctx: Context, status: number, code: string, message: string, field?: string): void {
  answer(ctx, status, { error: { code, message, ...(field ? { field } : {}) } });
}

/**
 * POST /talkdesk/events. Authenticates over the raw bytes, validates, stores the
 * event durably (credentials encrypted) and only then answers; the hand-over to
 * Temporal is best effort inside the request and guaranteed by the dispatcher.
 * No Talkdesk API call is ever made here.
 */
export function createCallbackHandler(deps: CallbackDeps) {
  const signature = {
    schemes: deps.signatureSchemes ?? DEFAULT_SIGNATURE_SCHEMES,
    webhookSecrets: deps.webhookSecrets,
    ecdsaPublicKeys: deps.ecdsaPublicKeys ?? new Map(),
    hmacAlgorithms: deps.hmacAlgorithms,
  };
  const signatureHelp = `Missing or wrong signature: send ${expectedSignatureText(signature.schemes)}.`;
  const jsonLimits: JsonLimits = { ...DEFAULT_JSON_LIMITS, ...deps.jsonLimits };

  return async (ctx: Context): Promise<void> => {
    let eventType = 'unknown';
    const outcome = (o: string) => deps.metrics?.eventsReceived.inc({ type: eventType, outcome: o });

    const limiter = deps.rateLimiter;
    const source = limiter?.source(ctx.req);
    const limited = (rate: RateDecision | undefined, what: string): boolean => {
      if (!rate || rate.allowed) return false;
      outcome('rate_limited');
      ctx.set('Retry-After', String(rate.retryAfterSeconds));
      refuse(ctx, 429, 'rate_limited', `Too many ${what} from this address; retry after ${rate.retryAfterSeconds} s.`);
      return true;
    };
    // A refusal before authentication spends the source's failed-auth budget, never the signed one.
    const unauthenticated = (o: string, answerIt: () => void): void => {
      if (limited(limiter?.unauthenticated(source), 'requests that failed authentication')) return;
      outcome(o);
      answerIt();
    };
    // Koa keeps the header's case and spaces: a media type is case-insensitive (`Application/JSON`, `application/json ;charset=utf-8`).
    const contentType = ctx.request.type.trim().toLowerCase();
    let raw: Buffer;
    try {
      raw = await readRawBody(ctx.req, deps.bodyLimitBytes, deps.bodyTimeoutMs, deps.bodiesInFlight, bodyShareKey(source));
    } catch (err) {
      // The rest of the body is not worth reading: answer and close the connection.
      ctx.set('Connection', 'close');
      if (err instanceof BodiesBusyError) {
        // The bound, or this source's share of it, is held (a flood of bodies): nothing read is kept; deliver again.
        outcome('busy');
        ctx.set('Retry-After', '5');
        return refuse(ctx, 503, 'busy', 'Too many callback bodies are being received at once; deliver again.');
      }
      if (err instanceof BodyTooLargeError)
        return unauthenticated('refused', () => refuse(ctx, 413, 'body_too_large', `The body exceeds ${deps.bodyLimitBytes} bytes.`));
      if (err instanceof BodyTimeoutError)
        return unauthenticated('refused', () => refuse(ctx, 408, 'body_timeout', 'The body was not received in time.'));
      // The client went away or broke the framing (e.g. a bad chunk): its fault, not ours.
      deps.logger.debug({ error: errorCode(err) }, 'callback body unreadable');
      return unauthenticated('refused', () =>
        refuse(ctx, 400, 'body_unreadable', 'The body could not be read (connection closed or malformed framing).'),
      );
    }
    if (contentType !== 'application/json') {
      return unauthenticated('refused', () => refuse(ctx, 415, 'unsupported_media_type', 'Send the event as application/json.'));
    }
    if (!deps.skipSignatureCheck && !verifyCallbackSignature(raw, ctx.req.headers, signature)) {
      return unauthenticated('unauthenticated', () => refuse(ctx, 401, 'invalid_signature', signatureHelp));
    }
    // Talkdesk's address: its next bodies may draw on the reserve while a flood holds the bound (raw-body.ts).
    if (!deps.skipSignatureCheck) deps.bodiesInFlight?.prove(bodyShareKey(source));
    // Past the signed budget an event is still stored, and handed over by the dispatcher at its own pace:
    // a 429 would spend one of Talkdesk's two redeliveries, and an event refused three times is lost.
    // So the budget paces hand-overs to Temporal; no signed request is refused for it.
    const budget = limiter?.authenticated(source);
    const overBudget = budget !== undefined && !budget.allowed;
    const shapeProblem = checkJsonShape(raw, jsonLimits);
    if (shapeProblem) {
      outcome('refused');
      return refuse(ctx, 400, 'json_too_complex', describeShapeProblem(shapeProblem));
    }
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      outcome('refused');
      return refuse(ctx, 415, 'not_json', 'The body is not valid JSON.');
    }
    if (deps.launch && isUserLogoutBody(json)) {
      eventType = 'user.logout';
      // Handled past the budget too: it makes no call to Temporal, which the budget paces.
      return deps.launch.userLogout(ctx, json, outcome, (createdAt) => checkEventTime(createdAt, Date.now(), deps.eventTimeLimits));
    }
    const parsed = parseEvent(json);
    // The schema names the field first; then no operator key or control character
    // anywhere, not even in the opaque credential fields or keys the schema drops.
    const problem = parsed.ok ? findUnsafeJson(json) : parsed.error;
    if (!parsed.ok || problem) {
      const { field, message } = problem ?? { field: '(root)', message: 'invalid event' };
      outcome('invalid');
      return refuse(ctx, 400, 'invalid_event', `${field}: ${message}`, field);
    }
    const event = parsed.event;
    eventType = event.type;
    if (event.app_id !== deps.appId) {
      outcome('wrong_app');
      return refuse(ctx, 403, 'wrong_app', 'The event is for another app (app_id does not match TALKDESK_APP_ID).');
    }

    const timeProblem = checkEventTime(event.created_at, Date.now(), deps.eventTimeLimits);
    if (timeProblem) {
      outcome('invalid');
      return refuse(ctx, 400, timeProblem.code, timeProblem.message, 'created_at');
    }

    const lifecycle = toLifecycleEvent(event);
    const log = deps.logger.child({
      installationId: lifecycle.installationId,
      workflowId: workflowIdFor(lifecycle.installationId),
      eventId: event.id,
      type: event.type,
    });
    const credentials = extractCredentials(event);
    const record = {
      _id: event.id,
      installationId: lifecycle.installationId,
      type: event.type,
      createdAt: new Date(event.created_at),
      receivedAt: new Date(),
      event: lifecycle,
    };
    const storeFailed = (err: unknown, what: string, happened = 'The event may not have been stored'): void => {
      // Nothing was accepted either way, so Talkdesk must deliver again: a store that fails
      // other than with a MongoError (seen rarely while MongoDB was cut off under load) is
      // answered the same, and logged apart so its cause shows.
      if (err instanceof MongoError) log.error({ error: err.name }, `${what}: MongoDB unavailable`);
      else if (err instanceof NotDurableYetError) log.warn(`${what}: an earlier delivery's record is not on a majority yet`);
      else log.error({ err }, `${what}: unexpected error while storing`);
      outcome('store_unavailable');
      ctx.set('Retry-After', '30');
      refuse(ctx, 503, 'store_unavailable', storeUnavailableMessage(happened, err));
    };
    // Failed steps too (a store or Temporal timing out is what the figure is for), told apart by outcome.
    const timeStep = (step: 'store' | 'handover' | 'mark') => {
      const end = deps.metrics?.callbackSteps.startTimer({ step });
      return { ok: () => void end?.({ outcome: 'ok' }), failed: () => void end?.({ outcome: 'failed' }) };
    };
    let inserted: InsertOutcome;
    const storing = timeStep('store');
    try {
      // Stored, not queued: queued below only if Temporal does not take it or the source is past its budget.
      inserted = await deps.inbox.insert(
        record,
        credentials ? sealEventCredentials(deps.keyring, lifecycle.installationId, credentials) : undefined,
        { queue: false },
      );
    } catch (err) {
      storing.failed();
      return storeFailed(err, 'event not stored');
    }

    storing.ok();
    if (inserted.stored === 'duplicate' && inserted.conflict) {
      // Not a redelivery: handing it over would apply this body under the stored event's id (or never).
      log.error('event id already stored for another installation, type, time, client or content: refused, nothing stored');
      outcome('refused');
      const why =
        'An event with this id is already stored for another installation, event type, created_at, client_id or content; event ids are unique, so this one was not stored.';
      return refuse(ctx, 409, 'event_id_conflict', why);
    }
    const stored = inserted.stored;
    if (inserted.stored === 'duplicate' && inserted.dispatched) {
      outcome('duplicate');
      return answer(ctx, 200, { status: 'duplicate', eventId: event.id });
    }
    try {
      // Sessions an uninstall or a user removal ends, before the hand-over and the answer. Not
      // for a repeat of an event handed over already: its sessions ended then, and a session
      // opened since (the user added back by a later update) is not this event's to end.
      // A repeat's removal is judged at the first arrival (the mapping's `factsAt` is compared with it).
      await deps.launch?.beforeHandOver(event, inserted.stored === 'duplicate' ? inserted.receivedAt : undefined);
    } catch (err) {
      // Stored, not handed over: the redelivery this asks for ends them and hands it over. Queued too (if the
      // store takes it), for after Talkdesk's redeliveries: were every one to fail so, the dispatcher still hands
      // it over (the workflow ends the sessions as it applies it) instead of the event waiting for the backstop;
      // handed over sooner, a redelivery would be a duplicate that ends nothing.
      await deps.inbox.enqueue(record, new Date(Date.now() + AFTER_REDELIVERIES_MS)).catch((queueErr: unknown) => {
        // Not fatal (a redelivery or the next start's pass hands it over), but operators should see it waits on those.
        const error = queueErr instanceof Error ? queueErr.name : 'unknown';
        log.warn({ error }, 'event stored, its sessions not ended, and not queued: a redelivery or the start-up pass hands it over');
      });
      return storeFailed(err, 'event stored; its sessions not ended', 'The event was stored, but the sessions it ends could not be ended');
    }

    // A redelivery got past the sessions an earlier delivery could not end: a hold that delivery put on
    // the event's queue entry (for after Talkdesk's redeliveries) has done its work and is lifted.
    const hold = stored === 'duplicate' ? ('release' as const) : undefined;
    // Queued for the dispatcher, which hands it over (Temporal did not take it, or the source is past its budget).
    const leftToDispatcher = async (o: 'stored_undispatched' | 'deferred') => {
      try {
        // The 202 promises the hand-over: a queue entry a failover rolls back would leave it to the daily backstop.
        await deps.inbox.enqueue(record, hold, true);
      } catch (queueErr) {
        // Stored but not queued: only a redelivery (or the backstop) would hand it over, so ask for one.
        return storeFailed(queueErr, 'event stored but not queued for hand-over', 'The event was stored but not queued for its hand-over');
      }
      outcome(o);
      return answer(ctx, 202, { status: 'stored', eventId: event.id, dispatched: false });
    };
    if (overBudget) {
      log.info('event stored; past its source budget, the dispatcher will hand it over');
      return leftToDispatcher('deferred');
    }
    const handingOver = timeStep('handover');
    try {
      // A repeat hands over the event as stored (its import reads that one), not this delivery's body.
      const handed = (inserted.stored === 'duplicate' && inserted.event) || lifecycle;
      await (stored === 'duplicate' ? (deps.redispatch ?? deps.dispatch) : deps.dispatch)(handed);
      handingOver.ok();
    } catch (err) {
      handingOver.failed();
      log.warn(temporalCallFailure(err), 'stored; Temporal unavailable, the dispatcher will hand it over');
      return leftToDispatcher('stored_undispatched');
    }
    // The first delivery's record was written just now, by this version (no credentials copy
    // in it), and queued nowhere: the mark is one update by `_id` and nothing to dequeue. A repeat's
    // record was read by the insert: without an older version's copy it is marked by `_id` alone too
    // (any other filter reads the whole inbox on FerretDB, once per redelivery).
    const mark =
      stored === 'stored'
        ? { record: {}, dequeue: false }
        : inserted.stored === 'duplicate' && inserted.legacyCopy === false
          ? { record: {} }
          : {};
    const marking = timeStep('mark');
    await deps.inbox.markDispatched(event.id, mark).then(
      () => marking.ok(),
      async (err: unknown) => {
        marking.failed();
        // Handed over but not marked: queued, so that the dispatcher marks it (the workflow ignores
        // the repeat); if that fails too (the store is down), the dispatcher retries the mark itself
        // until the store is back, and a process stopped before that leaves it to the next start.
        log.warn({ error: err instanceof Error ? err.name : 'unknown' }, 'dispatched but not marked');
        await deps.inbox.enqueue(record, hold).catch(() => deps.markLater?.(event.id, mark));
      },
    );
    log.info('event stored and dispatched');
    outcome(stored === 'duplicate' ? 'duplicate' : 'accepted');
    return answer(ctx, 200, { status: stored === 'duplicate' ? 'duplicate' : 'accepted', eventId: event.id, dispatched: true });
  };
}
