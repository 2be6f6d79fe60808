import type http from 'node:http';
import { ConfigError } from '../errors';

/**
 * Listens on `host:port`; a port another process holds, or an address this host does not
 * have, is a ConfigError naming the setting (`PORT`, `ADMIN_PORT`), so the process exits 2
 * with what to change instead of Node's bare `listen EADDRINUSE`.
 */
export async function listenOn(server: http.Server, port: number, host: string, setting: { port: string; host: string }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        reject(
          new ConfigError(
            `${setting.port}=${port}: cannot listen on ${host}:${port} (${err.code}). Set ${setting.port} to a free port (0 picks one), or stop the process that holds it.`,
          ),
        );
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
        reject(
          new ConfigError(
            `${setting.host}=${host}: not an address of this host (${err.code}). Set ${setting.host} to one it has, such as 0.0.0.0.`,
          ),
        );
      } else reject(err);
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
