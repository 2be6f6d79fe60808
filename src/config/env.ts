import { z } from 'zod';
import { ConfigError } from '../errors';
import { parseKeyring } from '../crypto/keyring';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../worker/cache-budget';
import { parseAllowList } from '../talkdesk/allowlist';
import { parseTrustProxy } from '../web/client-address';
import { HUB_ALGORITHMS, type HubAlgorithm } from '../web/signature';
import { DEFAULT_SIGNATURE_SCHEMES, SIGNATURE_SCHEMES, parseEcdsaPublicKeys, type SignatureScheme } from '../web/signature-schemes';
import { DEFAULT_INSTALLATION_OPTIONS } from '../../workflows/options';
import { ID_PATTERN } from '../events/fields';
import { bool, csv, emptyIsUnset, httpUrl, num, socketAddress } from './env-fields';

export { SIGNATURE_SCHEMES, type SignatureScheme };
/** Defaults that code outside the schema needs too: defined here once. */
export const DEFAULT_PORT = 3000;
/**
 * Admits the largest app.updated the schema allows with Talkdesk's ids (two lists of 10,000 24-character
 * ids: about 540 kB); 256kb refused updates of more than about 7,500 users with 413, which Talkdesk's
 * redeliveries get again (the event lost). One such event's signal is under Temporal's 2 MB payload limit.
 */
export const DEFAULT_CALLBACK_BODY_LIMIT = '1mb';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';
export const DEFAULT_LOCAL_TEMPORAL_UI_PORT = 8233;
export const DEFAULT_LOCAL_MONGODB_PORT = 27017;
/** Where web and worker find MongoDB when MONGODB_URI is unset (`npm start` starts FerretDB there). */
export const DEFAULT_MONGODB_URI = `mongodb://127.0.0.1:${DEFAULT_LOCAL_MONGODB_PORT}/`;
/** The longest TALKDESK_HTTP_TIMEOUT_MS: half the activity's 60 s (a state call may read Talkdesk first). */
export const TALKDESK_HTTP_TIMEOUT_MAX_MS = 30_000;
/**
 * The longest PARTNER_HOOKS_TIMEOUT_MS: a hook may be sent from a workflow activity that Temporal
 * stops after `activityTimeoutMs` (60 s; those that heartbeat get `heartbeatingActivityTimeoutMs`, 10 minutes). The hook's own timeout must fire first, so its failure is
 * the hook's (retryable with the same id; an undo kept outstanding for reconciliation), not the
 * activity's; and leave the rest of the activity its time: the Talkdesk reads before the call (one
 * request at TALKDESK_HTTP_TIMEOUT_MS's default is 10 s) and the service's writes after it. 50 s.
 */
export const PARTNER_HOOKS_TIMEOUT_MAX_MS = DEFAULT_INSTALLATION_OPTIONS.activityTimeoutMs - 10_000;

const NO_HOST_CHECK_SKIP =
  "the Temporal TypeScript SDK cannot skip host-name verification: unset it, and set TEMPORAL_TLS_SERVER_NAME to the server certificate's name";

export const DEFAULT_ALLOWED_HOSTS =
  'api.talkdeskapp.com,api.talkdeskapp.eu,api.talkdeskappca.com,api.talkdeskapp.au,*.talkdeskid.com,*.talkdeskid.eu,*.talkdeskidca.com,*.talkdeskid.au';

/** Every environment variable the service reads, with its default: one schema gives the type and the start-up check. */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORT: num(z.number().int().min(0).max(65535)).default(DEFAULT_PORT),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Admin listener (/readyz, /metrics): loopback by default; 9464 is the worker's SDK metrics. */
  ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
  ADMIN_PORT: num(z.number().int().min(0).max(65535)).default(9465),
  /** At SIGTERM the web answers /readyz 503 and keeps serving this long before it stops accepting (load balancers move first). */
  WEB_SHUTDOWN_DELAY_SECONDS: num(z.number().min(0).max(300)).default(0),
  TEMPORAL_ADDRESS: emptyIsUnset(
    z
      .string()
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$/, 'must be host:port, such as localhost:7233 (no scheme, no spaces)')
      .optional(),
  ),
  /** Unset: the TEMPORAL_PROFILE's namespace, else `default`. Read through temporalSettings(), never with a default here. */
  TEMPORAL_NAMESPACE: emptyIsUnset(z.string().min(1).optional()),
  /** Read by @temporalio/envconfig, which takes only `1`/`true` as true (`yes` quietly meant no TLS); empty reads as unset. */
  TEMPORAL_TLS: z.enum(['true', 'false', '1', '0', ''], { message: 'must be true or false (1 or 0)' }).optional(),
  // The TypeScript SDK reads it, then drops it (no such TLS option): `true` is refused, naming what to set instead.
  TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: z.enum(['false', '0', ''], { message: NO_HOST_CHECK_SKIP }).optional(),
  TEMPORAL_TASK_QUEUE: emptyIsUnset(z.string().min(1).default('appconnect-lifecycle')),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
    .optional(),
  // MongoDB's own rules for a database name: a bad one would otherwise read as "MongoDB unreachable" forever.
  MONGODB_DB: z
    .string()
    .regex(/^[^/\\. "$\0]+$/, 'must be a MongoDB database name: none of / \\ . " $ or a space')
    .refine((name) => Buffer.byteLength(name) < 64, 'must be a MongoDB database name: under 64 bytes')
    .default('appconnect'),
  // Trimmed (a trailing newline from a secret file) and checked as the events' app_id is: a value no event can carry
  // would answer every event 403 wrong_app, and Talkdesk gives up after its retries (an install's credentials lost).
  TALKDESK_APP_ID: z
    .string()
    .trim()
    .regex(ID_PATTERN, 'must be a Talkdesk app id: 1 to 128 letters, digits, dots, underscores, colons or hyphens'),
  /** Several secrets may be valid at once (comma-separated) so they can be rotated without downtime. */
  TALKDESK_WEBHOOK_SECRET: z
    .string()
    .min(16, 'must be at least 16 characters')
    .transform((v) => v.split(',').map((s) => s.trim()))
    .refine((l) => l.every((s) => s.length >= 16), 'each comma-separated secret must be at least 16 characters'),
  // Checked here, at start-up, before any connection: an empty list would refuse every Talkdesk call for good.
  TALKDESK_ALLOWED_HOSTS: csv(DEFAULT_ALLOWED_HOSTS)
    .refine((l) => l.length > 0, 'must list at least one host (unset it for the default list of Talkdesk hosts)')
    .superRefine((l, ctx) => {
      try {
        parseAllowList(l);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'invalid' });
      }
    }),
  // Node runs a longer timer at once; a state call may read Talkdesk before it calls, both inside one activity (60 s).
  TALKDESK_HTTP_TIMEOUT_MS: num(
    z
      .number()
      .int()
      .positive()
      .max(
        TALKDESK_HTTP_TIMEOUT_MAX_MS,
        `must be at most ${TALKDESK_HTTP_TIMEOUT_MAX_MS} (ms): a Talkdesk call may make two requests inside an activity Temporal ` +
          `stops after ${DEFAULT_INSTALLATION_OPTIONS.activityTimeoutMs} ms; set a lower value or remove the variable for the default, 10000`,
      ),
  ).default(10_000),
  // Checked by the parser the processes use (one rule: spaces around entries, a trailing newline from a secret file).
  SECRETS_KEY: z
    .string()
    .min(1)
    .superRefine((v, ctx) => {
      try {
        parseKeyring(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof ConfigError ? err.message.replace(/^SECRETS_KEY /, '') : 'invalid' });
      }
    }),
  CALLBACK_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'must be a size such as 256kb')
    .refine((v) => !/^0+\D/.test(v), 'must be more than 0 (every event would be refused as too large)')
    .default(DEFAULT_CALLBACK_BODY_LIMIT),
  /** Which callback signatures are accepted; an event passes when one enabled scheme verifies. */
  CALLBACK_SIGNATURE_SCHEMES: csv(DEFAULT_SIGNATURE_SCHEMES.join(','))
    .refine((l) => l.length > 0, 'must name at least one scheme: hmac, ecdsa')
    .refine((l) => l.every((s) => (SIGNATURE_SCHEMES as readonly string[]).includes(s)), 'must be a comma list of hmac, ecdsa')
    .transform((l) => [...new Set(l)] as SignatureScheme[]),
  /** HMAC algorithms accepted in x-hub-signature's prefix; sha1 only when listed. */
  CALLBACK_HMAC_ALGORITHMS: csv('sha256,sha512')
    .refine((l) => l.length > 0, 'must name at least one algorithm: sha256, sha512 (sha1 opt-in)')
    .refine((l) => l.every((a) => (HUB_ALGORITHMS as readonly string[]).includes(a)), 'must be a comma list of sha1, sha256, sha512')
    .transform((l) => [...new Set(l)] as HubAlgorithm[]),
  /** `<keyId>:<base64 SPKI DER or PEM>` entries, comma-separated; required when ecdsa is enabled. */
  TALKDESK_ECDSA_PUBLIC_KEYS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      try {
        return parseEcdsaPublicKeys(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'invalid' });
        return z.NEVER;
      }
    }),
  /** Signed callback requests per minute from one source address (token bucket); 0 turns the limit off. */
  CALLBACK_RATE_LIMIT_PER_MINUTE: num(z.number().int().min(0).max(1_000_000)).default(600),
  /** Callback requests refused before authentication, per minute from one source; 0 turns the limit off. */
  CALLBACK_FAILED_AUTH_PER_MINUTE: num(z.number().int().min(0).max(1_000_000)).default(60),
  /** Proxies whose X-Forwarded-For is believed: a hop count or comma-separated CIDRs; unset trusts none. */
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      try {
        return parseTrustProxy(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'invalid' });
        return z.NEVER;
      }
    }),
  /** An event whose created_at is further ahead of our clock than this is refused (event_from_future). */
  EVENT_MAX_FUTURE_SKEW_SECONDS: num(z.number().int().min(0).max(86_400)).default(300),
  /** Handled inbox events are kept this long, and older events are refused (event_too_old). */
  INBOX_RETENTION_DAYS: num(
    z.number().int().min(8, 'must be at least 8: longer than the seven-day rule plus Talkdesk retries').max(3650),
  ).default(30),
  // At most an hour: Node runs a timer past 2^31 - 1 ms at once, a hot loop over the dispatch queue.
  DISPATCH_INTERVAL_MS: num(z.number().int().positive().max(3_600_000, 'must be at most 3600000 (an hour)')).default(5_000),
  LOCAL_DATA_DIR: z.string().min(1).default('data'),
  LOCAL_TEMPORAL_PORT: num(z.number().int().min(1).max(65535)).default(7233),
  LOCAL_TEMPORAL_UI_PORT: num(z.number().int().min(1).max(65535)).default(DEFAULT_LOCAL_TEMPORAL_UI_PORT),
  LOCAL_MONGODB_PORT: num(z.number().int().min(1).max(65535)).default(DEFAULT_LOCAL_MONGODB_PORT),
  /** Sticky workflow cache, sized for 512 MiB of worker with 10,000 open installations (src/worker/cache-budget.ts). */
  // The SDK raises 1 to 2 with a warning in its own log: refused here, where the setting is named.
  WORKER_MAX_CACHED_WORKFLOWS: num(
    z
      .number()
      .int()
      .min(0)
      .refine((n) => n !== 1, 'must be 0 (no cache) or at least 2'),
  ).default(DEFAULT_MAX_CACHED_WORKFLOWS),
  WORKER_MAX_CONCURRENT_ACTIVITIES: num(z.number().int().min(1)).optional(),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: num(z.number().int().min(2)).optional(),
  WORKER_MAX_WORKFLOW_TASK_POLLS: num(z.number().int().min(2)).optional(),
  WORKER_MAX_ACTIVITY_TASK_POLLS: num(z.number().int().min(1)).optional(),
  /** Where the worker serves the Temporal SDK's Prometheus metrics; empty turns them off. */
  WORKER_METRICS_BIND: socketAddress.default('127.0.0.1:9464'),
  /** A worker whose store client fails this long while a new client reaches the store stops (src/store/watchdog.ts); 0: never. */
  WORKER_STORE_STUCK_SECONDS: num(z.number().min(0)).default(60),
  /** A web process whose store client fails this long while a new client reaches the store reconnects it (src/store/watchdog.ts); 0: never. */
  WEB_STORE_STUCK_SECONDS: num(z.number().min(0)).default(30),
  /** A stopping worker lets its running activities finish this long (a partner call: up to 50 s), then cancels them. */
  // At most a day: the stuck-worker exit's timer (grace + 30 s) fires at once past 2^31 - 1 ms.
  WORKER_SHUTDOWN_GRACE_SECONDS: num(z.number().min(0).max(86_400, 'must be at most 86400 (a day)')).default(60),
  RECONCILE_ENABLED: bool.default(true),
  RECONCILE_INTERVAL_MINUTES: num(
    z.number().min(1 / 60, 'must be at least 1/60 (one second): Temporal refuses a shorter schedule interval'),
  ).default(15),
  RECONCILE_PAGE_SIZE: num(z.number().int().min(1).max(1000)).default(200),
  RECONCILE_PARALLELISM: num(z.number().int().min(1).max(32)).default(4),
  RECONCILE_ACTIVE_CHECK_HOURS: num(z.number().positive()).default(24),
  RECONCILE_TALKDESK_CALLS_PER_MINUTE: num(z.number().int().min(1).max(10_000)).default(120),
  DEV_SKIP_SIGNATURE_CHECK: bool.default(false),
  /** Where the partner's product lives: the built-in MongoDB one, or the partner's backend over HTTP hooks. */
  PARTNER_PROVISIONER: z.enum(['mongodb', 'http']).default('mongodb'),
  /** Trusted operator setting: not subject to TALKDESK_ALLOWED_HOSTS or the private-address guard; http is allowed. */
  PARTNER_HOOKS_URL: z
    .string()
    .url()
    .refine((v) => /^https?:\/\//i.test(v), 'must be an http:// or https:// URL')
    // Node's fetch refuses a URL with credentials: every hook would fail as if the partner were unreachable.
    .refine((v) => !/^https?:\/\/[^/?#]*@/i.test(v), 'must not carry a user or password (the hooks are signed with PARTNER_HOOKS_SECRET)')
    .optional(),
  /** Comma-separated; the first signs the hooks, the partner may accept all of them while rotating. */
  PARTNER_HOOKS_SECRET: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.split(',').map((s) => s.trim())))
    .refine((l) => l === undefined || l.every((s) => s.length >= 16), 'each comma-separated secret must be at least 16 characters'),
  PARTNER_HOOKS_PAGE_SIZE: num(z.number().int().min(1).max(10_000)).default(500),
  PARTNER_HOOKS_TIMEOUT_MS: num(
    z
      .number()
      .int()
      .positive()
      .max(
        PARTNER_HOOKS_TIMEOUT_MAX_MS,
        `must be at most ${PARTNER_HOOKS_TIMEOUT_MAX_MS} (ms): a hook may be sent from an activity Temporal stops after ` +
          `${DEFAULT_INSTALLATION_OPTIONS.activityTimeoutMs} ms, and the hook's timeout must fire first, with time left for the rest ` +
          'of the activity; set a lower value or remove the variable for the default, 10000',
      ),
  ).default(10_000),
  // Launch (single sign-on from Talkdesk, docs/launch.md).
  /** The service's public base URL; `${APP_BASE_URL}/sso/callback` is the redirect URL. Required in production. */
  // Routes, cookie paths and redirects are at the root: a base under a path would break every sign-in.
  APP_BASE_URL: httpUrl
    .refine((v) => /^https?:\/\/[^/?#]+$/.test(v), 'must be an origin with no path, query or fragment (e.g. https://app.example.com)')
    .optional(),
  SSO_SCOPES: z
    .string()
    .default('openid')
    .refine((v) => /^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(v.trim()), 'must be space-separated scopes'),
  SSO_CLIENT_AUTH: z.enum(['private_key_jwt', 'client_secret_basic']).default('private_key_jwt'),
  SESSION_TTL_HOURS: num(
    z
      .number()
      .positive()
      .max(24 * 30),
  ).default(8),
  SESSION_COOKIE_SAMESITE: z.enum(['lax', 'none']).default('lax'),
  TALKDESK_WIDGET_HOSTS: csv('prd-cdn-talkdesk.talkdesk.com'),
  /** With SESSION_COOKIE_SAMESITE=none: the https origins (a `*.` host wildcard allowed) that may frame the app's pages; empty: any. */
  APP_FRAME_ANCESTORS: z
    .string()
    .optional()
    .transform((v) =>
      v
        ?.split(',')
        .map((o) => o.trim())
        .filter((o) => o.length > 0),
    )
    .refine(
      (list) => (list ?? []).every((o) => /^https:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$/.test(o)),
      'must be comma-separated https origins, e.g. https://*.mytalkdesk.com',
    ),
  /** Set: the sign-in hands the user to the partner's own app here with a signed identity token. */
  APP_HOME_URL: httpUrl.optional(),
  /** `<kid>:<base64 PKCS#8 EC P-256 private key>` entries, comma-separated; the first signs. */
  SSO_SIGNING_KEYS: z.string().optional(),
  /** Failed sign-ins (/launch, /sso/callback) per minute from one source; past it 429 with nothing recorded. 0 turns it off. */
  SSO_FAILED_SIGN_INS_PER_MINUTE: num(z.number().int().min(0).max(1_000_000)).default(120),
  /** Records of failed sign-ins (sso_failures) are deleted after this many days. */
  SSO_FAILURE_RETENTION_DAYS: num(z.number().int().min(1).max(3650)).default(30),
  /** Shown on every sign-in failure page. Required in production. */
  SUPPORT_CONTACT: z.string().min(1).max(300).optional(),
});

export type Env = z.infer<typeof envSchema>;

/** Rules between variables, checked after each variable parsed on its own. */
function crossChecks(env: Env): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (env.CALLBACK_SIGNATURE_SCHEMES.includes('ecdsa') && (env.TALKDESK_ECDSA_PUBLIC_KEYS?.size ?? 0) === 0) {
    problems.push({
      path: 'TALKDESK_ECDSA_PUBLIC_KEYS',
      message: 'required when CALLBACK_SIGNATURE_SCHEMES includes ecdsa: give "<keyId>:<base64 SPKI DER or PEM>" entries, comma-separated',
    });
  }
  if (env.DEV_SKIP_SIGNATURE_CHECK && env.NODE_ENV === 'production') {
    problems.push({
      path: 'DEV_SKIP_SIGNATURE_CHECK',
      message: 'must not be true when NODE_ENV=production: anyone could post events (an uninstall of any installation); remove it',
    });
  }
  // Both listeners are this process's own (a clash read "another process holds it"); a wildcard host clashes with any.
  const sharesAddress = [env.HOST, env.ADMIN_HOST].some((h) => ['0.0.0.0', '::', '[::]'].includes(h)) || env.HOST === env.ADMIN_HOST;
  if (env.PORT !== 0 && env.PORT === env.ADMIN_PORT && sharesAddress) {
    problems.push({
      path: 'ADMIN_PORT',
      message: `must differ from PORT (${env.PORT}): the admin listener (/readyz, /metrics) is a second port`,
    });
  }
  if (env.PARTNER_PROVISIONER === 'http') {
    if (!env.PARTNER_HOOKS_URL)
      problems.push({ path: 'PARTNER_HOOKS_URL', message: "required when PARTNER_PROVISIONER=http: the partner's hook endpoint" });
    if (!env.PARTNER_HOOKS_SECRET?.length) {
      problems.push({
        path: 'PARTNER_HOOKS_SECRET',
        message: 'required when PARTNER_PROVISIONER=http: the secret(s) that sign the hooks, comma-separated',
      });
    }
  }
  return problems;
}

function configError(problems: { path: string; message: string }[]): ConfigError {
  // zod's own words for a missing variable ("expected string, received undefined") say less than this.
  const lines = problems.map((p) => `  ${p.path}: ${/received undefined$/.test(p.message) ? 'required, not set' : p.message}`);
  return new ConfigError(`Invalid configuration:\n${lines.join('\n')}\nSee docs/configuration.md for every variable and its default.`);
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) throw configError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  const problems = crossChecks(parsed.data);
  if (problems.length > 0) throw configError(problems);
  return parsed.data;
}

/**
 * Only the named variables (for commands that need a few, such as `npm run reencrypt`):
 * the same checks and messages, without requiring what the command does not read.
 */
export function loadEnvSubset<K extends keyof Env & keyof typeof envSchema.shape>(
  names: readonly K[],
  source: NodeJS.ProcessEnv = process.env,
): Pick<Env, K> {
  const shape = Object.fromEntries(names.map((n) => [n, envSchema.shape[n]])) as Pick<typeof envSchema.shape, K>;
  const parsed = z.object(shape).safeParse(source);
  if (!parsed.success) throw configError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  return parsed.data as unknown as Pick<Env, K>;
}
