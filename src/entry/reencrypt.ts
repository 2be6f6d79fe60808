import { loadEnvSubset } from '../config/env';
import { parseKeyring } from '../crypto/secrets';
import { ConfigError } from '../errors';
import { scrubUrlCredentials } from '../logging/redact';
import type { Database } from '../store/db';
import { connectConfiguredDatabase } from './bootstrap';
import { runReencrypt } from './reencrypt-run';

/**
 * `npm run reencrypt`: re-encrypts every secret at rest under the first key of
 * SECRETS_KEY and the current binding (and moves credential and token records to
 * collision-free ids), while the service runs. Put the new key first and keep the old
 * ones after it (in this command and in the running web and worker processes),
 * run this until it reports "complete", then remove the old keys.
 *
 *   npm run reencrypt -- [--batch-size 100] [--dry-run]
 *
 * Reads only SECRETS_KEY, MONGODB_URI and MONGODB_DB. Prints one JSON report on
 * stdout (key ids and counts, never key material). Exit 0 when nothing is left
 * under an old key, 1 when something is (run it again, or add the missing key
 * ids it names to SECRETS_KEY), 2 on a configuration error.
 */
function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { batchSize: number; dryRun: boolean } {
  // `npm run reencrypt --dry-run` (no `--`) gives the flag to npm, which runs this with no
  // arguments: a "dry run" that would write. npm says so in npm_config_<flag>; refuse it.
  for (const [flag, name] of [
    ['--dry-run', 'npm_config_dry_run'],
    ['--batch-size', 'npm_config_batch_size'],
  ] as const) {
    if (env[name] !== undefined) {
      throw new ConfigError(
        `${flag} went to npm, not to this command, so nothing was done; run: npm run reencrypt -- ${flag}${flag === '--batch-size' ? ' N' : ''}`,
      );
    }
  }
  let batchSize = 100;
  let dryRun = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--dry-run') dryRun = true;
    else if (arg === '--batch-size' || arg.startsWith('--batch-size=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[(i += 1)];
      batchSize = Number(value);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
        throw new ConfigError('--batch-size must be an integer from 1 to 10000');
    } else throw new ConfigError(`unknown argument ${JSON.stringify(arg.slice(0, 40))}; use --batch-size N and --dry-run`);
  }
  return { batchSize, dryRun };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  let env: ReturnType<typeof loadEnvSubset<'SECRETS_KEY' | 'MONGODB_URI' | 'MONGODB_DB'>>;
  let keyring: ReturnType<typeof parseKeyring>;
  try {
    args = parseArgs(process.argv.slice(2));
    env = loadEnvSubset(['SECRETS_KEY', 'MONGODB_URI', 'MONGODB_DB']);
    keyring = parseKeyring(env.SECRETS_KEY);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`reencrypt: ${err.message}`);
      return 2;
    }
    throw err;
  }
  let db: Database;
  try {
    db = await connectConfiguredDatabase(env, 'then run it again (nothing was changed).');
  } catch (err) {
    console.error(`reencrypt: ${err instanceof Error ? err.message : 'MongoDB cannot be reached'}`);
    return 1;
  }
  try {
    return await runReencrypt(db, keyring, args, { err: console.error, out: console.log });
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('reencrypt failed:', err instanceof Error ? `${err.name}: ${scrubUrlCredentials(err.message)}` : 'unknown error');
    process.exit(1);
  },
);
