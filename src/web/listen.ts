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
      if (err.code === 'EADDRINUSE') {
        reject(
          new ConfigError(
            `${setting.port}=${port}: cannot listen on ${host}:${port} (EADDRINUSE: another process holds it). Set ${setting.port} to a free port (0 picks one), or stop the process that holds it.`,
          ),
        );
      } else if (err.code === 'EACCES') {
        reject(
          new ConfigError(
            port < 1024
              ? `${setting.port}=${port}: this process may not listen on ${host}:${port} (EACCES: ports below 1024 need privileges). Set ${setting.port} to 1024 or above and put a proxy or port mapping in front.`
              : `${setting.port}=${port}: this process may not listen on ${host}:${port} (EACCES: refused by the system's policy, e.g. SELinux or AppArmor). Allow it there, or set ${setting.port} to a port it allows.`,
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

/**
 * Stops taking connections, lets the requests being answered finish (up to `graceMs`), then
 * cuts what is left. Talkdesk retries a callback it got no answer to, so a cut one is not
 * lost; letting it finish saves the retry, and the work it started (a hand-over, a logout
 * forward) begins before the background parts stop.
 */
export async function closeGracefully(server: http.Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // A keep-alive connection counts until it is idle: close each as soon as its answer is sent.
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([closed, cut]);
  clearInterval(idle);
  clearTimeout(timer);
  server.closeAllConnections();
  await closed;
}

/** The `http://` URL of a listener: an IPv6 host (`::`, `::1`) in brackets, as a URL needs it. */
export function listenerUrl(host: string, port: number): string {
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}
