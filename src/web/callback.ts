import type { Context } from 'koa';
import { MongoError } from 'mongodb';
import { encryptJson, type Keyring } from '../crypto/secrets';
import { extractCredentials, parseEvent, toLifecycleEvent } from '../events/schemas';
import type { Logger } from '../logging/logger';
import type { InboxStore } from '../store/inbox';
import type { Dispatch } from './dispatch';
import type { WebMetrics } from './metrics';
import { BodyTimeoutError, BodyTooLargeError, readRawBody } from './raw-body';
import { verifyHubSignature } from './signature';

export interface CallbackDeps {
  appId: string;
  webhookSecrets: string[];
  skipSignatureCheck: boolean;
  bodyLimitBytes: number;
  bodyTimeoutMs: number;
  keyring: Keyring;
  inbox: InboxStore;
  dispatch: Dispatch;
  logger: Logger;
  metrics?: WebMetrics;
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
  return async (ctx: Context): Promise<void> => {
    let eventType = 'unknown';
    const outcome = (o: string) => deps.metrics?.eventsReceived.inc({ type: eventType, outcome: o });

    const contentType = ctx.request.type;
    let raw: Buffer;
    try {
      raw = await readRawBody(ctx.req, deps.bodyLimitBytes, deps.bodyTimeoutMs);
    } catch (err) {
      outcome('refused');
      if (err instanceof BodyTooLargeError) return refuse(ctx, 413, 'body_too_large', `The body exceeds ${deps.bodyLimitBytes} bytes.`);
      if (err instanceof BodyTimeoutError) return refuse(ctx, 408, 'body_timeout', 'The body was not received in time.');
      throw err;
    }
    if (contentType !== 'application/json') {
      outcome('refused');
      return refuse(ctx, 415, 'unsupported_media_type', 'Send the event as application/json.');
    }
    if (!deps.skipSignatureCheck && !verifyHubSignature(raw, ctx.get('x-hub-signature') || undefined, deps.webhookSecrets)) {
      outcome('unauthenticated');
      return refuse(ctx, 401, 'invalid_signature', 'Missing or wrong x-hub-signature (sha256=<hex HMAC of the raw body>).');
    }
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      outcome('refused');
      return refuse(ctx, 415, 'not_json', 'The body is not valid JSON.');
    }
    const parsed = parseEvent(json);
    if (!parsed.ok) {
      outcome('invalid');
      return refuse(ctx, 400, 'invalid_event', `${parsed.error.field}: ${parsed.error.message}`, parsed.error.field);
    }
    const event = parsed.event;
    eventType = event.type;
    if (event.app_id !== deps.appId) {
      outcome('wrong_app');
      return refuse(ctx, 403, 'wrong_app', 'The event is for another app (app_id does not match TALKDESK_APP_ID).');
    }

    const lifecycle = toLifecycleEvent(event);
    const log = deps.logger.child({
      installationId: lifecycle.installationId,
      workflowId: `installation-${lifecycle.installationId}`,
      eventId: event.id,
      type: event.type,
    });
    const credentials = extractCredentials(event);
    let stored: 'stored' | 'duplicate';
    try {
      stored = await deps.inbox.insert({
        _id: event.id,
        installationId: lifecycle.installationId,
        type: event.type,
        createdAt: new Date(event.created_at),
        receivedAt: new Date(),
        event: lifecycle,
        ...(credentials
          ? {
              credentials: encryptJson(
                deps.keyring,
                { clientSecret: credentials.clientSecret, privateKey: credentials.privateKey, publicKey: credentials.publicKey },
                lifecycle.installationId,
              ),
            }
          : {}),
      });
    } catch (err) {
      if (!(err instanceof MongoError)) throw err;
      log.error({ error: err.name }, 'event not stored: MongoDB unavailable');
      outcome('store_unavailable');
      ctx.set('Retry-After', '30');
      return refuse(ctx, 503, 'store_unavailable', 'The event could not be stored; deliver it again later.');
    }

    if (stored === 'duplicate') {
      const existing = await deps.inbox.get(event.id).catch(() => null);
      if (existing?.dispatchedAt) {
        outcome('duplicate');
        return answer(ctx, 200, { status: 'duplicate', eventId: event.id });
      }
    }

    try {
      await deps.dispatch(lifecycle);
      await deps.inbox.markDispatched(event.id).catch((err: unknown) => {
        // The dispatcher will signal again; the workflow ignores the repeat.
        log.warn({ error: err instanceof Error ? err.name : 'unknown' }, 'dispatched but not marked');
      });
    } catch (err) {
      log.warn({ error: err instanceof Error ? err.name : 'unknown' }, 'stored; Temporal unavailable, the dispatcher will hand it over');
      outcome('stored_undispatched');
      return answer(ctx, 202, { status: 'stored', eventId: event.id, dispatched: false });
    }
    log.info('event stored and dispatched');
    outcome(stored === 'duplicate' ? 'duplicate' : 'accepted');
    return answer(ctx, 200, { status: stored === 'duplicate' ? 'duplicate' : 'accepted', eventId: event.id, dispatched: true });
  };
}
