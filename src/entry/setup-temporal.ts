import { Connection } from '@temporalio/client';
import { loadEnvSubset } from '../config/env';
import { rethrowRefused, temporalConnectFailure } from '../temporal/connect-errors';
import { TEMPORAL_CONNECTION_ENV, temporalSettings } from '../temporal/connection';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { exitOnFailure } from './bootstrap';

/**
 * `npm run setup:temporal`: registers the search attributes on the configured
 * cluster (TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / API key or TLS). Safe to rerun.
 * On Temporal Cloud, search attributes are managed with tcld or the Cloud UI instead.
 */
async function main(): Promise<void> {
  // Only what it reads: a web or worker setting is not its business. TEMPORAL_TLS too: `yes` would send the key in clear.
  loadEnvSubset(TEMPORAL_CONNECTION_ENV);
  const { connectionOptions, namespace } = temporalSettings();
  const connection = await Connection.connect(connectionOptions).catch((err: unknown) => {
    throw temporalConnectFailure(connectionOptions.address, namespace, err);
  });
  try {
    const added = await ensureSearchAttributes(connection, namespace).catch(rethrowRefused(connectionOptions.address, namespace));
    console.log(added.length ? `registered on ${namespace}: ${added.join(', ')}` : `search attributes already registered on ${namespace}`);
  } finally {
    await connection.close();
  }
}

main().catch(exitOnFailure('setup:temporal'));
