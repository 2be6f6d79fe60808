import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { freePort, retryBindClash, startProcess, waitForPort, type ManagedProcess } from './process';
import { toolPath } from './tools';

export interface LocalTemporal {
  address: string;
  /** The Web UI's base address; empty when started without the UI. */
  uiUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * `temporal server start-dev` with the namespace and the project's search
 * attributes registered at start; state on disk when `dataDir` is given (else
 * in memory), the Web UI when `uiPort` is given (else headless).
 *
 * Started and awaited here rather than by the SDK's ephemeral-server helper,
 * whose fixed 5 s start-up wait is too short on a loaded 2-core machine.
 */
export async function startTemporalDevServer(options: {
  port: number;
  uiPort?: number;
  dataDir?: string;
  namespace: string;
  host?: string;
  /** How long to wait for the server's ports, in ms (default 60 s). */
  startTimeoutMs?: number;
  /** Server dynamic config values (`--dynamic-config-value key=value`), e.g. a lower history limit for a test. */
  dynamicConfig?: Record<string, string | number | boolean>;
}): Promise<LocalTemporal> {
  const host = options.host ?? '127.0.0.1';
  const args = ['server', 'start-dev', '--ip', host, '--port', String(options.port)];
  if (options.dataDir) {
    const dataDir = path.resolve(options.dataDir);
    mkdirSync(dataDir, { recursive: true });
    args.push('--db-filename', path.join(dataDir, 'temporal.db'));
  }
  // Loopback UI, and no newsfeed fetched from the internet.
  if (options.uiPort) args.push('--ui-port', String(options.uiPort), '--ui-ip', host, '--ui-disable-news-fetch');
  else args.push('--headless');
  args.push(
    '--namespace',
    options.namespace,
    '--log-level',
    'warn',
    ...ALL_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
    ...Object.entries(options.dynamicConfig ?? {}).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${JSON.stringify(v)}`]),
  );
  const proc = startProcess('temporal', toolPath('temporal'), args);
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  try {
    await waitForPort(options.port, host, timeoutMs, proc);
    if (options.uiPort) await waitForPort(options.uiPort, host, timeoutMs, proc);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const uiHost = host === '0.0.0.0' ? 'localhost' : host;
  return {
    address: `${host}:${options.port}`,
    uiUrl: options.uiPort ? `http://${uiHost}:${options.uiPort}` : '',
    process: proc,
    stop: () => proc.stop(),
  };
}

/** startTemporalDevServer on free ports picked here, picked again when one was taken before the bind (retryBindClash). */
export function startTemporalDevServerOnFreePorts(
  options: Omit<Parameters<typeof startTemporalDevServer>[0], 'port' | 'uiPort'> & { withUi?: boolean },
): Promise<{ server: LocalTemporal; port: number; uiPort?: number }> {
  const { withUi, ...rest } = options;
  return retryBindClash(async () => {
    const port = await freePort(rest.host);
    const uiPort = withUi ? await freePort(rest.host) : undefined;
    return { server: await startTemporalDevServer({ ...rest, port, ...(uiPort ? { uiPort } : {}) }), port, uiPort };
  });
}
