import { Connection } from '@temporalio/client';
import { loadEnv } from '../config/env';
import { temporalSettings } from '../temporal/connection';
import { ensureSearchAttributes } from '../temporal/search-attributes';

/**
 * `npm run setup:temporal`: registers the search attributes on the configured
 * cluster (TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / API key or TLS). Safe to rerun.
 * On Temporal Cloud, search attributes are managed with tcld or the Cloud UI instead.
 */
async function main(): Promise<void> {
  const env = loadEnv({
    ...process.env,
    TALKDESK_APP_ID: 'unused',
    TALKDESK_WEBHOOK_SECRET: 'unused-unused-unused',
    SECRETS_KEY: 'unused',
  });
  const { connectionOptions, namespace } = temporalSettings({ namespace: env.TEMPORAL_NAMESPACE });
  const connection = await Connection.connect(connectionOptions);
  try {
    const added = await ensureSearchAttributes(connection, namespace);
    console.log(added.length ? `registered on ${namespace}: ${added.join(', ')}` : `search attributes already registered on ${namespace}`);
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error('setup:temporal failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
