import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { startProcess, waitForPort, type ManagedProcess } from './process';
import { toolPath } from './tools';

export interface LocalTemporal {
  address: string;
  uiUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * `temporal server start-dev` with state on disk, its Web UI, the namespace and
 * the project's search attributes registered at start.
 */
export async function startTemporalDevServer(options: {
  port: number;
  uiPort: number;
  dataDir: string;
  namespace: string;
  host?: string;
}): Promise<LocalTemporal> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--db-filename',
    path.join(dataDir, 'temporal.db'),
    '--namespace',
    options.namespace,
    '--log-level',
    'warn',
    ...ALL_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
  ];
  const proc = startProcess('temporal', toolPath('temporal'), args);
  await waitForPort(options.port, host, 60_000, proc);
  await waitForPort(options.uiPort, host, 60_000, proc);
  return {
    address: `${host}:${options.port}`,
    uiUrl: `http://${host === '0.0.0.0' ? 'localhost' : host}:${options.uiPort}`,
    process: proc,
    stop: () => proc.stop(),
  };
}
