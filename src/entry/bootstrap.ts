import { parseKeyring, type Keyring } from '../crypto/secrets';
import { DEFAULT_MONGODB_URI, loadEnv, type Env } from '../config/env';
import { AppError, ConfigError } from '../errors';
import { scrubUrlCredentials, urlTarget } from '../logging/redact';
import { createLogger, type Logger } from '../logging/logger';
import { connectDatabase, createStore, type Database, type Store } from '../store';
import { TalkdeskClient } from '../talkdesk/client';

/** Validated configuration and a logger, or a message naming the bad variable and exit 2. */
export function bootstrap(name: string): { env: Env; logger: Logger; keyring: Keyring } {
  try {
    const env = loadEnv();
    const logger = createLogger({ level: env.LOG_LEVEL, name });
    const keyring = parseKeyring(env.SECRETS_KEY);
    if (env.DEV_SKIP_SIGNATURE_CHECK) {
      logger.warn('DEV_SKIP_SIGNATURE_CHECK is on: callbacks are NOT authenticated. Never use this in production.');
    }
    return { env, logger, keyring };
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * The configured database, or an AppError naming MONGODB_URI and its host (the driver's words name the
 * host, not the setting) and never the connection string's password; `then` says what to do after.
 */
export async function connectConfiguredDatabase(
  env: Pick<Env, 'MONGODB_URI' | 'MONGODB_DB'>,
  then = 'the process can be restarted once it answers.',
): Promise<Database> {
  const uri = env.MONGODB_URI ?? DEFAULT_MONGODB_URI;
  return connectDatabase(uri, env.MONGODB_DB).catch((err: unknown) => {
    const why = scrubUrlCredentials(err instanceof Error ? err.message : String(err));
    throw new AppError(
      `MongoDB at ${urlTarget(uri)} (MONGODB_URI${env.MONGODB_URI ? '' : ' unset: the default'}) cannot be reached: ${why}. ` +
        `Start it or correct MONGODB_URI; ${then}`,
    );
  });
}

export async function openStore(env: Env, keyring: Keyring, logger: Logger): Promise<Store> {
  const db = await connectConfiguredDatabase(env);
  const store = createStore(db, keyring);
  await store.prepare().then(
    ({ movedCredentials }) => {
      if (movedCredentials > 0) logger.info({ movedCredentials }, 'event credentials moved out of inbox records');
    },
    (err: unknown) =>
      logger.warn(
        { err },
        'could not prepare the store yet (MongoDB unreachable?): indexes and moving older event credentials wait for the next start',
      ),
  );
  return store;
}

export function talkdeskClient(env: Env): TalkdeskClient {
  return new TalkdeskClient({ allowedHosts: env.TALKDESK_ALLOWED_HOSTS, timeoutMs: env.TALKDESK_HTTP_TIMEOUT_MS });
}

/** A signal this soon after the first is the same Ctrl-C delivered twice, not a second one. */
const REPEATED_SIGNAL_MS = 1_000;

/**
 * SIGINT/SIGTERM: the first calls `onFirst`; a second one while stopping (a second Ctrl-C) exits now, through
 * process.exit, so that 'exit' hooks still run (npm start kills its embedded servers there; Node's default for the
 * signal would skip them). Not one within a second of the first: a Ctrl-C can arrive twice at once (from the
 * terminal, and forwarded by npm).
 */
export function onSignals(logger: Logger, onFirst: (signal: string) => void): void {
  let stoppingSince: number | undefined;
  const handler = (signal: string) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < REPEATED_SIGNAL_MS) return;
      logger.warn({ signal }, 'second signal while stopping: exiting now');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stoppingSince = Date.now();
    onFirst(signal);
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits; a second signal while it runs exits at once (`onSignals`). */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  onSignals(logger, (signal) => {
    logger.info({ signal }, 'shutting down');
    stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  });
}

/** The end of an entry point's `main()`: a configuration error exits 2 (docs/configuration.md), anything else 1. */
export function exitOnFailure(what: string): (err: unknown) => never {
  return (err) => {
    console.error(`${what} failed:`, err instanceof Error ? err.message : err);
    process.exit(err instanceof ConfigError ? 2 : 1);
  };
}
