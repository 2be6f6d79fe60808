import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { MongoError } from 'mongodb';
import { SecretDecryptError } from '../src/crypto/secrets';
import { PartnerRefusedError, PartnerUnavailableError } from '../src/partner/errors';
import { PartnerCancelledError } from '../src/partner/provisioner';
import { TalkdeskError } from '../src/talkdesk/errors';
import { toActivityFailure } from '../src/talkdesk/failures';

export const STORE_UNAVAILABLE = 'StoreUnavailable';
export const CREDENTIALS_MISSING = 'CredentialsMissing';
export const CREDENTIALS_UNREADABLE = 'CredentialsUnreadable';
/** The partner refused for good (4xx): the message is its sanitised reason, shown to Talkdesk in a rejection. */
export const PARTNER_REFUSED = 'PartnerRefused';
/** The partner is down, slow or rate limiting: retried until the phase's deadline. */
export const PARTNER_UNAVAILABLE = 'PartnerUnavailable';

/**
 * Turns whatever an activity threw into a failure that is safe to record in
 * Temporal history: Talkdesk errors by their own mapping, store outages as
 * retryable, and nothing else's message (it could hold a secret).
 */
export function toFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof PartnerRefusedError) {
    return ApplicationFailure.create({ type: PARTNER_REFUSED, message: err.reason, nonRetryable: true, details: [{ status: err.status }] });
  }
  if (err instanceof PartnerUnavailableError) {
    return ApplicationFailure.create({
      type: PARTNER_UNAVAILABLE,
      message: `${err.message}; it will be retried`,
      details: [err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}],
      ...(err.retryAfterMs !== undefined ? { nextRetryDelay: err.retryAfterMs } : {}),
    });
  }
  if (err instanceof TalkdeskError) return toActivityFailure(err);
  if (err instanceof SecretDecryptError) {
    return ApplicationFailure.create({
      type: CREDENTIALS_UNREADABLE,
      message: `${err.message}. Check that SECRETS_KEY still lists the key id the credentials were encrypted with.`,
      nonRetryable: true,
    });
  }
  if (err instanceof MongoError) {
    return ApplicationFailure.create({
      type: STORE_UNAVAILABLE,
      message: `MongoDB operation failed (${err.name}${'code' in err && err.code ? ` ${String(err.code)}` : ''}); it will be retried. Check MONGODB_URI and the database's health.`,
    });
  }
  return toActivityFailure(err);
}

/**
 * The worker's activity interceptor: whatever an activity throws leaves it as
 * `toFailure` made it, so no raw error object (axios's carries headers), secret
 * or stack reaches history. Registered in `src/worker/create-worker.ts`.
 */
export const sanitiseFailures: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        // Cancelled (an uninstall interrupted it): reported as a cancellation, not a failure.
        if (err instanceof CancelledFailure) throw err;
        if (err instanceof PartnerCancelledError) throw new CancelledFailure(err.message);
        throw toFailure(err);
      }
    },
  },
});

export function credentialsMissing(installationId: string, clientId?: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: CREDENTIALS_MISSING,
    message: `No usable credentials for installation ${installationId}${clientId ? ` (client ${clientId})` : ''}: they were destroyed or never stored. A new app.installed event is needed.`,
    nonRetryable: true,
  });
}
