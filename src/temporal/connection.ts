import { loadClientConnectConfig } from '@temporalio/envconfig';
import { DEFAULT_TEMPORAL_NAMESPACE } from '../config/env';

/** What a command connecting to Temporal validates (loadEnvSubset); the SDK reads the rest: API key, profile, certificates. */
export const TEMPORAL_CONNECTION_ENV = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
] as const;

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
  // Empty reads as unset (the SDK would read it as false: TLS off, whatever the API key or profile says).
  for (const name of ['TEMPORAL_TLS', 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION'])
    if (overrideEnvVars[name] === '') delete overrideEnvVars[name];
  if (overrides.address) overrideEnvVars.TEMPORAL_ADDRESS = overrides.address;
  if (overrides.namespace) overrideEnvVars.TEMPORAL_NAMESPACE = overrides.namespace;
  const config = loadClientConnectConfig({ overrideEnvVars });
  return { connectionOptions: config.connectionOptions, namespace: config.namespace ?? DEFAULT_TEMPORAL_NAMESPACE };
}
