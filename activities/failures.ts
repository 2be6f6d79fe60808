import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { MongoError } from 'mongodb';
import { SecretDecryptError } from '../src/crypto/secrets';
import { ClientIdReusedError } from '../src/store/credential-errors';
import { PartnerRefusedError, PartnerUnavailableError, safeUnavailableMessage, sanitiseReason } from '../src/partner/errors';
import { PartnerCancelledError } from '../src/partner/provisioner';
import { TalkdeskError } from '../src/talkdesk/errors';
import { toActivityFailure } from '../src/talkdesk/failures';
import { CREDENTIALS_MISSING, PARTNER_REFUSED } from '../workflows/activity-types';

export { CREDENTIALS_MISSING };
export const STORE_UNAVAILABLE = 'StoreUnavailable';
export const CREDENTIALS_UNREADABLE = 'CredentialsUnreadable';
/**
 * SECRETS_KEY lacks the key id a stored secret was encrypted with (an old key removed too
 * early): retried until the phase's deadline, so that putting the key back lets it go on.
 * Not for importCredentials (see toFailure): its copy was sealed moments before by the web
 * process, so a worker without that key is configured unlike the web, and it is final there.
 */
export const SECRETS_KEY_MISSING = 'SecretsKeyMissing';
export { PARTNER_REFUSED };
/** The partner is down, slow or rate limiting: retried until the phase's deadline. */
export const PARTNER_UNAVAILABLE = 'PartnerUnavailable';
/** An error nothing maps (a bug, or a library's own error class): retried, named by its class and the activity. */
export const UNEXPECTED_ACTIVITY_ERROR = 'UnexpectedActivityError';

/**
 * What an activity works with besides Talkdesk (whose errors all have a type of their own):
 * where an error that maps to nothing most likely came from, and what to check.
 */
const STORE_ONLY = [
  'loadInstallation',
  'recordInstallation',
  'importCredentials',
  'switchCredentials',
  'destroyCredentials',
  'destroyRevokedCredentials',
  'discardEventCredentials',
  'destroyRetiredCredentials',
  'listInstallationPage',
];
const PARTNER = ['provisionAccount', 'undoProvisioning', 'applyUpdate', 'revertUpdate', 'deprovisionAccount', 'recordTrial'];
function suspect(activityType: string | undefined): string {
  if (activityType !== undefined && STORE_ONLY.includes(activityType)) {
    return 'the partner store (MongoDB). Check that MONGODB_URI reaches a healthy database';
  }
  if (activityType !== undefined && PARTNER.includes(activityType)) {
    return "the partner's backend (PARTNER_PROVISIONER) or the partner store. Check that both are up and healthy";
  }
  return 'the partner store or the service itself (Talkdesk errors have types of their own). Check that MongoDB is healthy';
}

const SAFE_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;
const SAFE_CODE = /^[A-Za-z0-9_]{1,40}$/;
/** A MongoDB driver error, also from another copy of the driver (a partner provisioner bundling its own). */
const isMongoError = (err: unknown): err is Error =>
  err instanceof MongoError || (err instanceof Error && /^Mongo[A-Za-z]*Error$/.test(err.name));

/** The class and code of an error, when they are plain identifiers: never its message (it could hold a secret). */
function safeFacts(err: unknown): { name: string; code?: string } {
  const rawName = err instanceof Error ? err.name : typeof err;
  const name = SAFE_NAME.test(rawName) ? rawName : 'Error';
  const rawCode = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  const code =
    (typeof rawCode === 'string' || typeof rawCode === 'number') && SAFE_CODE.test(String(rawCode)) ? String(rawCode) : undefined;
  return code === undefined ? { name } : { name, code };
}

/**
 * Turns whatever an activity threw into a failure that is safe to record in
 * Temporal history: Talkdesk errors by their own mapping, store outages as
 * retryable, and nothing else's message (it could hold a secret). `activityType`
 * (the interceptor passes it) names the step, and what an unknown error most
 * likely came from.
 */
export function toFailure(err: unknown, activityType?: string): ApplicationFailure {
  const where = activityType ? ` in ${activityType}` : '';
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof PartnerRefusedError) {
    // Cleaned here too: a partner's own provisioner (not the HTTP one, which cleans answers) may throw any text, and
    // it reaches history and the rejection Talkdesk shows the customer's admins.
    const message = sanitiseReason(err.reason);
    return ApplicationFailure.create({ type: PARTNER_REFUSED, message, nonRetryable: true, details: [{ status: err.status }] });
  }
  if (err instanceof PartnerUnavailableError) {
    return ApplicationFailure.create({
      type: PARTNER_UNAVAILABLE,
      message: `${safeUnavailableMessage(err.message)}; it will be retried`,
      details: [err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}],
      ...(err.retryAfterMs !== undefined ? { nextRetryDelay: err.retryAfterMs } : {}),
    });
  }
  if (err instanceof TalkdeskError) return toActivityFailure(err);
  // importCredentials also runs outside any phase (an install stopped at its start, or one
  // with its uninstall queued behind it), where nothing would end the retries: final here, unless
  // the activity itself found the event recent (`sealedUnderUnknownKey`: retried for an hour).
  if (err instanceof SecretDecryptError && err.unknownKey && activityType !== 'importCredentials') {
    return ApplicationFailure.create({
      type: SECRETS_KEY_MISSING,
      message: `${err.message}; it will be retried. Put that key back in SECRETS_KEY (after the current one) and restart the workers.`,
    });
  }
  if (err instanceof SecretDecryptError) {
    return ApplicationFailure.create({
      type: CREDENTIALS_UNREADABLE,
      message: `${err.message}. Check that SECRETS_KEY still lists the key id the credentials were encrypted with.`,
      nonRetryable: true,
    });
  }
  if (isMongoError(err)) {
    const { name, code } = safeFacts(err);
    return ApplicationFailure.create({
      type: STORE_UNAVAILABLE,
      message: `The partner store (MongoDB) failed${where} (${name}${code ? ` ${code}` : ''}); it will be retried. Check that MONGODB_URI reaches a healthy database.`,
      details: [{ name, ...(code ? { code } : {}) }],
    });
  }
  // Not a Talkdesk error (those are mapped above): say where it most likely came from.
  const { name, code } = safeFacts(err);
  return ApplicationFailure.create({
    type: UNEXPECTED_ACTIVITY_ERROR,
    message:
      `Unexpected ${name}${code ? ` (${code})` : ''}${where}, most likely from ${suspect(activityType)}; it will be retried. ` +
      'If it persists, report it with the activity name (its own message is not recorded: it could hold a secret).',
    details: [{ name, ...(code ? { code } : {}), ...(activityType ? { activityType } : {}) }],
  });
}

/**
 * The worker's activity interceptor: whatever an activity throws leaves it as
 * `toFailure` made it, so no raw error object (axios's carries headers), secret
 * or stack reaches history. Registered in `src/worker/create-worker.ts`.
 */
export const sanitiseFailures: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        // Cancelled (an uninstall interrupted it): reported as a cancellation, not a failure.
        if (err instanceof CancelledFailure) throw err;
        if (err instanceof PartnerCancelledError) throw new CancelledFailure(err.message);
        throw toFailure(err, ctx.info.activityType);
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

/**
 * An import that finished after every set of its installation was destroyed (an attempt the workflow had
 * stopped waiting for, outliving the uninstall or a rejected install): it destroyed the set it wrote.
 */
export function destroyedWhileImporting(installationId: string, eventId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: CREDENTIALS_MISSING,
    message: `The credentials of installation ${installationId} were destroyed while event ${eventId}'s were being imported (an uninstall or a rejected install ran meanwhile), so the imported set was destroyed too. A new app.installed event is needed.`,
    nonRetryable: true,
  });
}

/**
 * How long after the web sealed an event's credentials an import that cannot read them (this worker's
 * SECRETS_KEY lacks the web's key id) is retried: a key rotation restarting the web before the workers.
 * An hour, not the phase's days: the import also runs outside any phase (an install stopped at its start,
 * an uninstall queued behind it), where the uninstall waits for it.
 */
export const UNKNOWN_KEY_IMPORT_GRACE_MS = 60 * 60 * 1000;

/**
 * The import's failure when the event's credentials are under a key id this worker does not know:
 * retryable for an hour after the event arrived (the workers are being restarted with the web's key),
 * final after it (`toFailure`: CredentialsUnreadable). Undefined for any other error.
 */
export function sealedUnderUnknownKey(err: unknown, receivedAt: Date, now = Date.now()): ApplicationFailure | undefined {
  if (!(err instanceof SecretDecryptError) || !err.unknownKey) return undefined;
  const until = receivedAt.getTime() + UNKNOWN_KEY_IMPORT_GRACE_MS;
  if (now >= until) return undefined;
  return ApplicationFailure.create({
    type: SECRETS_KEY_MISSING,
    message:
      `${err.message}; the web process sealed this event's credentials with that key, which this worker's SECRETS_KEY lacks ` +
      `(a key rotation that restarted the web before the workers?). Give the workers the web's SECRETS_KEY and restart them: ` +
      `retried until ${new Date(until).toISOString()}, then the import fails for good.`,
  });
}

/** An import whose event reuses a client id the installation holds with another key (ClientIdReusedError). */
export function clientIdReused(err: unknown, eventId: string): ApplicationFailure | undefined {
  if (!(err instanceof ClientIdReusedError)) return undefined;
  return ApplicationFailure.create({
    type: 'ClientIdReused',
    message:
      `${err.message}: event ${eventId} brings a new key under it, which this service cannot switch to in place. ` +
      `The set in use is kept and the event's encrypted copy too (until the inbox retention); ask Talkdesk to rotate ` +
      `to a new client id.`,
    nonRetryable: true,
  });
}
