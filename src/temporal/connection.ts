import { loadClientConnectConfig } from '@temporalio/envconfig';
import { DEFAULT_TEMPORAL_NAMESPACE } from '../config/env';
import { ConfigError } from '../errors';

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
  const config = readSettings(overrideEnvVars);
  return { connectionOptions: config.connectionOptions, namespace: config.namespace ?? DEFAULT_TEMPORAL_NAMESPACE };
}

/**
 * The SDK's reading of the profile file and certificates, its failures as a ConfigError (exit 2) naming the settings:
 * an unknown TEMPORAL_PROFILE, a certificate path that does not exist, a file that does not parse. Only the profile's
 * name, a file's path and an error's code or name are quoted, never a line of the file (it may hold an API key).
 */
function readSettings(overrideEnvVars: Record<string, string>) {
  try {
    return loadClientConnectConfig({ overrideEnvVars });
  } catch (err) {
    const e = err as { message?: string; code?: string; path?: string; name?: string };
    const what = /^Profile '[^']*' not found/.test(e.message ?? '')
      ? e.message?.split('\n')[0]
      : e.code && e.path
        ? `${e.code} ${e.path}`
        : (e.name ?? 'an unreadable setting');
    throw new ConfigError(
      `Temporal connection settings could not be read (${what}): check TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE and the TEMPORAL_TLS_* certificate paths`,
    );
  }
}
