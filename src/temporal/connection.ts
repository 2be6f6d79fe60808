import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
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
  // The SDK reads these into a profile's codec, then drops it: the processes started and sent plain payloads with no
  // word that the setting did nothing.
  const codec = ['TEMPORAL_CODEC_ENDPOINT', 'TEMPORAL_CODEC_AUTH'].filter((name) => overrideEnvVars[name] !== undefined);
  if (codec.length > 0)
    throw new ConfigError(
      `${codec.join(' and ')} set: a remote payload codec is not applied by the TypeScript SDK, so payloads would go ` +
        'unencoded; unset it (no secret is in a payload: docs/configuration.md)',
    );
  if (overrides.address) overrideEnvVars.TEMPORAL_ADDRESS = overrides.address;
  if (overrides.namespace) overrideEnvVars.TEMPORAL_NAMESPACE = overrides.namespace;
  const config = readSettings(overrideEnvVars);
  return { connectionOptions: config.connectionOptions, namespace: config.namespace ?? DEFAULT_TEMPORAL_NAMESPACE };
}

/**
 * The dev server `npm start` runs itself (no TEMPORAL_ADDRESS): plaintext on loopback, no key. Neither a Temporal CLI
 * profile on the machine (a developer's cloud account: its API key and TLS) nor TEMPORAL_API_KEY / TEMPORAL_TLS* are for
 * it: the default profile's key turned TLS on against the local server, and `npm start` could not connect to what it had
 * started. TEMPORAL_NAMESPACE names the namespace it serves (unset or empty: `default`).
 */
export function embeddedTemporalSettings(address: string) {
  return { connectionOptions: { address }, namespace: embeddedNamespace() };
}

/** The namespace the embedded dev server is started with and serves. */
export function embeddedNamespace(): string {
  return process.env.TEMPORAL_NAMESPACE || DEFAULT_TEMPORAL_NAMESPACE;
}

/**
 * The SDK's reading of the profile file and certificates, its failures as a ConfigError (exit 2) naming the settings:
 * an unknown TEMPORAL_PROFILE, a certificate path that does not exist, a file that does not parse. Only the profile's
 * name, a file's path and an error's code or name are quoted, never a line of the file (it may hold an API key).
 */
function readSettings(overrideEnvVars: Record<string, string>) {
  let profile: ReturnType<typeof loadClientConfigProfile>;
  let options: ReturnType<typeof toClientOptions>;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars });
    options = toClientOptions(profile); // reads the certificate files
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
  // The SDK drops a client certificate without its key (and a key without its certificate) and connects without mTLS:
  // the cluster then refused the connection with words that did not say which setting was missing.
  const { clientCert, clientKey } = profile.tls ?? {};
  if (!clientCert !== !clientKey) {
    const [given, missing] = clientCert ? ['certificate', 'KEY'] : ['key', 'CERT'];
    throw new ConfigError(
      `Temporal client ${given} set without its pair: set TEMPORAL_TLS_CLIENT_${missing}_PATH too (or TEMPORAL_TLS_CLIENT_${missing}_DATA, ` +
        `or the profile's client_${missing.toLowerCase()}_path), or neither`,
    );
  }
  return options;
}
