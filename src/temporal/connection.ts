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
  // Empty reads as unset, for every variable the SDK reads (manifests often leave one so): an empty TEMPORAL_TLS
  // turned TLS off whatever the API key said, an empty TEMPORAL_API_KEY or TEMPORAL_TLS_* turned it on.
  for (const [name, value] of Object.entries(overrideEnvVars))
    if (name.startsWith('TEMPORAL_') && value === '') delete overrideEnvVars[name];
  // The TypeScript SDK drops it (no such TLS option), and any value of it turned TLS on: `true` is refused at start
  // (src/config/env.ts), `false` means what no value does.
  delete overrideEnvVars.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION;
  if (overrides.address) overrideEnvVars.TEMPORAL_ADDRESS = overrides.address;
  if (overrides.namespace) overrideEnvVars.TEMPORAL_NAMESPACE = overrides.namespace;
  const config = loadClientConnectConfig({ overrideEnvVars });
  return { connectionOptions: config.connectionOptions, namespace: config.namespace ?? DEFAULT_TEMPORAL_NAMESPACE };
}
