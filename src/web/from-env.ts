import type { Client } from '@temporalio/client';
import { DEFAULT_MONGODB_URI, type Env } from '../config/env';
import type { Keyring } from '../crypto/secrets';
import type { Logger } from '../logging/logger';
import { provisionerFromEnv } from '../partner/from-env';
import { forwardUserLogout, LOGOUT_FORWARD_TIMING } from '../partner/logout';
import { launchSettingsFromEnv } from '../sso/settings';
import { pingWithNewClient, type Store } from '../store';
import { TalkdeskClient } from '../talkdesk/client';
import type { WebServerOptions } from './server';

/** The web server's settings as the environment gives them (both entry points use this). */
export function webServerOptionsFromEnv(
  env: Env,
  parts: { keyring: Keyring; store: Store; temporal: Client; logger: Logger },
): WebServerOptions {
  // user.logout reaches the partner's backend only with the HTTP provisioner; the built-in one has nothing to end.
  const partner = env.PARTNER_PROVISIONER === 'http' ? provisionerFromEnv(env, parts.store, parts.logger) : undefined;
  return {
    host: env.HOST,
    port: env.PORT,
    adminHost: env.ADMIN_HOST,
    adminPort: env.ADMIN_PORT,
    shutdownDelayMs: env.WEB_SHUTDOWN_DELAY_SECONDS * 1000,
    appId: env.TALKDESK_APP_ID,
    webhookSecrets: env.TALKDESK_WEBHOOK_SECRET,
    skipSignatureCheck: env.DEV_SKIP_SIGNATURE_CHECK,
    signatureSchemes: env.CALLBACK_SIGNATURE_SCHEMES,
    ecdsaPublicKeys: env.TALKDESK_ECDSA_PUBLIC_KEYS,
    hmacAlgorithms: env.CALLBACK_HMAC_ALGORITHMS,
    maxFutureSkewSeconds: env.EVENT_MAX_FUTURE_SKEW_SECONDS,
    inboxRetentionDays: env.INBOX_RETENTION_DAYS,
    rateLimitPerMinute: env.CALLBACK_RATE_LIMIT_PER_MINUTE,
    failedAuthPerMinute: env.CALLBACK_FAILED_AUTH_PER_MINUTE,
    trustProxy: env.TRUST_PROXY,
    bodyLimit: env.CALLBACK_BODY_LIMIT,
    dispatchIntervalMs: env.DISPATCH_INTERVAL_MS,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    ...(env.WEB_STORE_STUCK_SECONDS > 0
      ? {
          storeWatchdog: {
            pingFresh: () => pingWithNewClient(env.MONGODB_URI ?? DEFAULT_MONGODB_URI, env.MONGODB_DB),
            stuckAfterMs: env.WEB_STORE_STUCK_SECONDS * 1_000,
          },
        }
      : {}),
    launch: {
      settings: launchSettingsFromEnv(env),
      talkdesk: new TalkdeskClient({ allowedHosts: env.TALKDESK_ALLOWED_HOSTS, timeoutMs: env.TALKDESK_HTTP_TIMEOUT_MS }),
      failedSignInsPerMinute: env.SSO_FAILED_SIGN_INS_PER_MINUTE,
      ...(partner
        ? {
            onUserLogout: async (e) => void (await forwardUserLogout(partner, e)),
            // A resend's claim outlasts the longest hook call, so no other process takes it mid-send; a
            // shutdown waits for a first attempt's hook call and then 10 s for its store write.
            logoutForwardTiming: {
              claimMs: Math.max(LOGOUT_FORWARD_TIMING.claimMs, 2 * env.PARTNER_HOOKS_TIMEOUT_MS + 10_000),
              drainMs: env.PARTNER_HOOKS_TIMEOUT_MS + 10_000,
            },
          }
        : {}),
    },
    ...parts,
  };
}
