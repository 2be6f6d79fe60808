import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';

/**
 * Temporal connection settings follow the SDK's own conventions
 * (`@temporalio/envconfig`: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*, TEMPORAL_PROFILE and the TOML profile file), so the same build
 * runs against a self-hosted cluster or Temporal Cloud.
 */
export function temporalSettings(overrides: { address?: string; namespace?: string } = {}) {
  // overrideEnvVars replaces the environment, so start from the process's own.
  const overrideEnvVars: Record<string, string> = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  if (overrides.address) overrideEnvVars.TEMPORAL_ADDRESS = overrides.address;
  if (overrides.namespace) overrideEnvVars.TEMPORAL_NAMESPACE = overrides.namespace;
  const config = loadClientConnectConfig({ overrideEnvVars });
  return { connectionOptions: config.connectionOptions, namespace: config.namespace ?? 'default' };
}

export async function connectClient(overrides: { address?: string; namespace?: string } = {}): Promise<Client> {
  const { connectionOptions, namespace } = temporalSettings(overrides);
  const connection = await Connection.connect(connectionOptions);
  return new Client({ connection, namespace });
}

export async function connectWorkerConnection(
  overrides: { address?: string; namespace?: string } = {},
): Promise<{ connection: NativeConnection; namespace: string }> {
  const { connectionOptions, namespace } = temporalSettings(overrides);
  return { connection: await NativeConnection.connect(connectionOptions), namespace };
}
