import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** The variables `npm start` gives its web and worker, for processes started apart from it. */
const SHARED = [
  'TEMPORAL_ADDRESS',
  // The namespace the dev server was started with: the processes must use the same one.
  'TEMPORAL_NAMESPACE',
  // The embedded server's own profile file (writeLocalTemporalProfile), in place of the machine's.
  'TEMPORAL_CONFIG_FILE',
  'MONGODB_URI',
  'SECRETS_KEY',
  'SSO_SIGNING_KEYS',
  'TALKDESK_APP_ID',
  'TALKDESK_WEBHOOK_SECRET',
  'TALKDESK_ALLOWED_HOSTS',
  'SUPPORT_CONTACT',
] as const;

const shellQuoted = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/**
 * `npm run start:servers`: the embedded Temporal and FerretDB only, for running the web and
 * the worker as separate processes (as in production). Their settings go to a file readable by
 * its owner only, not to the console: it holds the secrets key and the webhook secret.
 */
export function writeServersEnv(
  dataDir: string,
  values: Partial<Record<(typeof SHARED)[number], string>>,
  /** Variables the file sets empty (read as unset), over what the shell that loads it has. */
  blank: readonly string[] = [],
): string {
  const file = path.join(dataDir, 'local.env');
  const lines = [
    ...SHARED.flatMap((name) => (values[name] ? [`${name}=${shellQuoted(values[name])}`] : [])),
    ...blank.map((name) => `${name}=''`),
  ];
  writeFileSync(file, `# written by npm run start:servers; load with: set -a; . ${file}; set +a\n${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

/**
 * For the embedded dev server: a shell's own Temporal settings (a cloud account's profile name, API key, TLS, a remote
 * codec, which the processes refuse at start) set empty, which every process reads as unset, so that the profile file
 * written for the dev server alone decides. The gRPC headers (TEMPORAL_GRPC_META_<name>, any name) are blanked as the
 * shell writing the file has them: `embeddedTemporalBlanks`.
 */
export const EMBEDDED_TEMPORAL_BLANKS = [
  'TEMPORAL_CODEC_ENDPOINT',
  'TEMPORAL_CODEC_AUTH',
  'TEMPORAL_PROFILE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
] as const;

/** EMBEDDED_TEMPORAL_BLANKS, and the gRPC headers `env` holds (a cloud proxy's authorization: not for the dev server). */
export function embeddedTemporalBlanks(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...EMBEDDED_TEMPORAL_BLANKS, ...Object.keys(env).filter((name) => name.startsWith('TEMPORAL_GRPC_META_'))];
}

/**
 * A Temporal profile file for the embedded dev server (address and namespace; no key, no TLS), named by TEMPORAL_CONFIG_FILE
 * in the settings file: processes loading it read this, not the machine's default profile (a cloud account's API key and
 * TLS would be sent to the local server, which answers plaintext only).
 */
export function writeLocalTemporalProfile(dataDir: string, address: string, namespace: string): string {
  const file = path.join(dataDir, 'temporal-local.toml');
  const toml = (v: string) => JSON.stringify(v); // a TOML basic string: the same escapes as JSON for these values
  writeFileSync(
    file,
    `# written by npm run start:servers\n[profile.default]\naddress = ${toml(address)}\nnamespace = ${toml(namespace)}\n`,
    {
      mode: 0o600,
    },
  );
  return file;
}

export function serversBanner(o: { ui: string; address: string; mongo: string; envFile: string }): string {
  const load = `set -a; . ${o.envFile}; set +a`;
  return [
    '',
    'appconnect-lifecycle servers are running (no web, no worker)',
    `  Temporal UI:        ${o.ui}`,
    `  Temporal frontend:  ${o.address}`,
    `  MongoDB:            ${o.mongo}`,
    `  Settings file:      ${o.envFile}`,
    '',
    '  In other terminals:',
    `    ${load}; npm run start:worker`,
    `    ${load}; npm run start:web`,
    '  Stop the servers:   Ctrl-C',
    '',
  ].join('\n');
}
