import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

/**
 * A gRPC endpoint on loopback that answers every call as Temporal Cloud answers a wrong API
 * key: `grpc-status` 16 (UNAUTHENTICATED), or the code given (7, PERMISSION_DENIED). Plain
 * text: connect with TLS off (`tls: false`, TEMPORAL_TLS=false). `answersSystemInfo`: the
 * connection's own `GetSystemInfo` gets an empty answer (a key valid for the cluster, not for
 * the namespace), so the refusal comes from the first call that names the namespace.
 */
export async function startRefusingTemporal(
  code = 16,
  o: { answersSystemInfo?: boolean } = {},
): Promise<{ address: string; close(): Promise<void> }> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    const answered = o.answersSystemInfo && String(headers[':path']).endsWith('/GetSystemInfo');
    // An empty message: gRPC's 5-byte frame (not compressed, length 0).
    stream.on('wantTrailers', () =>
      stream.sendTrailers(answered ? { 'grpc-status': '0' } : { 'grpc-status': String(code), 'grpc-message': 'Request unauthorized.' }),
    );
    stream.resume();
    stream.end(answered ? Buffer.alloc(5) : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
