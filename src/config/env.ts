import { z } from 'zod';
import { ConfigError } from '../errors';

/**
 * Every environment variable the service reads, with its default. One schema gives
 * both the type and the start-up check; the README's configuration table mirrors it.
 */
const hexOrBase64Key = /^[A-Za-z0-9+/=_-]+$/;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const csv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );

export const DEFAULT_ALLOWED_HOSTS =
  'api.talkdeskapp.com,api.talkdeskapp.eu,api.talkdeskappca.com,api.talkdeskapp.au,*.talkdeskid.com,*.talkdeskid.eu,*.talkdeskidca.com,*.talkdeskid.au';

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('appconnect-lifecycle'),
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').optional(),
  MONGODB_DB: z.string().min(1).default('appconnect'),
  TALKDESK_APP_ID: z.string().min(1).max(128),
  /** Several secrets may be valid at once (comma-separated) so they can be rotated without downtime. */
  TALKDESK_WEBHOOK_SECRET: z
    .string()
    .min(16, 'must be at least 16 characters')
    .transform((v) => v.split(',').map((s) => s.trim()))
    .refine((l) => l.every((s) => s.length >= 16), 'each comma-separated secret must be at least 16 characters'),
  TALKDESK_ALLOWED_HOSTS: csv(DEFAULT_ALLOWED_HOSTS),
  TALKDESK_HTTP_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  SECRETS_KEY: z
    .string()
    .min(1)
    .refine((v) => v.split(',').every((part) => hexOrBase64Key.test(part.split(':').pop() ?? '')), {
      message: 'must be "<key-id>:<base64 32-byte key>" entries separated by commas (first one encrypts)',
    }),
  CALLBACK_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'must be a size such as 256kb').default('256kb'),
  DISPATCH_INTERVAL_MS: z.coerce.number().int().positive().default(5_000),
  LOCAL_DATA_DIR: z.string().min(1).default('data'),
  LOCAL_TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  LOCAL_TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  LOCAL_MONGODB_PORT: z.coerce.number().int().min(1).max(65535).default(27017),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).optional(),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).optional(),
  DEV_SKIP_SIGNATURE_CHECK: bool.default(false),
});

export type Env = z.infer<typeof envSchema>;

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}\nSee the configuration table in README.md.`);
  }
  return parsed.data;
}
