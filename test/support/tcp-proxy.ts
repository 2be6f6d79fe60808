import net, { type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A tiny loopback TCP forwarder for outage tests: point a client at `port` and
 * every connection is piped to the target. `block()` destroys the connections in
 * flight and resets every new one (the port stays ours, so nothing else can take
 * it), `unblock()` forwards again. The shared servers behind it never stop.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private blocked = false;
  private target?: { host: string; port: number };
  /** Connections accepted and forwarded, and connections refused while blocked. */
  readonly stats = { forwarded: 0, refused: 0 };

  get port(): number {
    if (!this.server) throw new Error('proxy not started');
    return (this.server.address() as AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  async start(targetHost: string, targetPort: number): Promise<this> {
    if (this.server) throw new Error('proxy already started');
    this.target = { host: targetHost, port: targetPort };
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return this;
  }

  private accept(client: Socket): void {
    if (this.blocked || !this.target) {
      this.stats.refused += 1;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    this.stats.forwarded += 1;
    const upstream = net.connect(this.target.port, this.target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const teardown = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Cuts every open connection and resets every new one until `unblock()`. */
  block(): void {
    this.blocked = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  unblock(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.block();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Starts a proxy to `host:port`. */
export function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  return new TcpProxy().start(targetHost, targetPort);
}

/** `host` and `port` of a `mongodb://host:port/...` URI or a `host:port` address. */
export function hostPort(address: string): { host: string; port: number } {
  const m = /^(?:[a-z+]+:\/\/)?(?:[^@/]*@)?(\[[^\]]+\]|[^:/?]+):(\d+)/i.exec(address);
  if (!m?.[1] || !m[2]) throw new Error(`cannot read host:port from ${address}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
