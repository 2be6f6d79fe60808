import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { freePort, retryBindClash, startProcess, waitForPort, type ManagedProcess } from './process';
import { maintainIdPathIndexes } from './ferretdb-id-index';
import { toolPath } from './tools';

export interface LocalMongo {
  uri: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** FerretDB on its embedded SQLite backend: a MongoDB wire-protocol server with no MongoDB binary. */
/** `idIndexes: false` leaves FerretDB's tables as it makes them (see ferretdb-id-index.ts). */
/** startFerretDB on a free port picked here, picked again when it was taken before the bind (retryBindClash). */
export function startFerretDBOnFreePort(options: { dataDir: string; host?: string; idIndexes?: boolean }): Promise<LocalMongo> {
  return retryBindClash(async () => startFerretDB({ ...options, port: await freePort(options.host) }));
}

export async function startFerretDB(options: { port: number; dataDir: string; host?: string; idIndexes?: boolean }): Promise<LocalMongo> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const proc = startProcess('ferretdb', toolPath('ferretdb'), [
    '--handler=sqlite',
    `--sqlite-url=file:${dataDir}/`,
    `--listen-addr=${host}:${options.port}`,
    '--debug-addr=-',
    '--telemetry=disable',
    `--state-dir=${dataDir}`,
    '--log-level=warn',
  ]);
  try {
    await waitForPort(options.port, host, 30_000, proc);
  } catch (err) {
    await proc.stop(); // a start that timed out must not leave it running beside the next attempt
    throw err;
  }
  const indexes =
    options.idIndexes === false
      ? undefined
      : maintainIdPathIndexes(dataDir, (err) => process.stderr.write(`ferretdb: ${err.message}; {_id} lookups scan whole tables\n`));
  return {
    uri: `mongodb://${host}:${options.port}/`,
    port: options.port,
    process: proc,
    stop: async () => {
      await indexes?.stop();
      await proc.stop();
    },
  };
}
