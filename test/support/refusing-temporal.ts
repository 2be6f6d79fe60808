import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

/**
 * A gRPC endpoint on loopback that answers every call as Temporal Cloud answers a wrong API
 * key: `grpc-status` 16 (UNAUTHENTICATED), or the code given (7, PERMISSION_DENIED). Plain
 * text: connect with TLS off (`tls: false`, TEMPORAL_TLS=false).
 */
export async function startRefusingTemporal(code = 16): Promise<{ address: string; close(): Promise<void> }> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(code), 'grpc-message': 'Request unauthorized.' }));
    stream.resume();
    stream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
