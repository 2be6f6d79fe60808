import assert from 'node:assert/strict';
import { mongoUri } from './servers';
import { startSystem, type SystemOptions, type TestSystem } from './system';
import { hostPort, startTcpProxy, type TcpProxy } from './tcp-proxy';

/** The same MongoDB URI with its host:port replaced by the proxy's. */
export function throughProxy(uri: string, proxy: TcpProxy): string {
  const { host, port } = hostPort(uri);
  const hostInUri = host.includes(':') ? `[${host}]` : host;
  const proxied = uri.replace(`${hostInUri}:${port}`, proxy.address);
  assert.notEqual(proxied, uri, `cannot point ${uri} at the proxy`);
  // One server, addressed as given: the driver must not discover and use the real address.
  return `${proxied}${proxied.includes('?') ? '&' : proxied.endsWith('/') ? '?' : '/?'}directConnection=true`;
}

/**
 * The suite hooks for a system whose web server reaches MongoDB through a TCP proxy a test can
 * block (the worker's connection is direct); the proxy is unblocked after each test.
 */
export function useSystemBehindMongoProxy(use: (sys: TestSystem, proxy: TcpProxy) => void, opts: SystemOptions = {}): void {
  let proxy: TcpProxy | undefined;
  let sys: TestSystem | undefined;
  before(async () => {
    const uri = await mongoUri();
    const { host, port } = hostPort(uri);
    proxy = await startTcpProxy(host, port);
    sys = await startSystem({ ...opts, webMongoUri: throughProxy(uri, proxy) });
    use(sys, proxy);
  });
  after(async () => {
    await sys?.close();
    await proxy?.close();
  });
  afterEach(() => proxy?.unblock());
}
