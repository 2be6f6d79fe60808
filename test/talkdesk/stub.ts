import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TalkdeskKeyAlgorithm } from '../../src/talkdesk/assertion';

/** A request as the stub saw it. */
export interface StubRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  pathname: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type StubHandler = (req: StubRequest, res: http.ServerResponse) => void | Promise<void>;

export interface Stub {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  host: string;
  requests: StubRequest[];
  close(): Promise<void>;
}

/** A loopback HTTP server answering with `handler`; every request is recorded. */
export async function startStub(handler: StubHandler): Promise<Stub> {
  const requests: StubRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const seen: StubRequest = {
        method: req.method ?? 'GET',
        url,
        pathname: new URL(url, 'http://stub').pathname,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      Promise.resolve(handler(seen, res)).catch(() => {
        res.statusCode = 599;
        res.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestKey {
  algorithm: TalkdeskKeyAlgorithm;
  publicKey: KeyObject;
  /** As Talkdesk sends it: base64 of the PKCS#8 DER. */
  privateKeyBase64Der: string;
  privateKeyPem: string;
}

const keyCache = new Map<TalkdeskKeyAlgorithm, TestKey>();

/** A fresh key pair for `algorithm`, generated once per run. */
export function testKey(algorithm: TalkdeskKeyAlgorithm): TestKey {
  const cached = keyCache.get(algorithm);
  if (cached) return cached;
  const curve: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
  const namedCurve = curve[algorithm];
  const pair = namedCurve ? generateKeyPairSync('ec', { namedCurve }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key: TestKey = {
    algorithm,
    publicKey: pair.publicKey,
    privateKeyBase64Der: pair.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  keyCache.set(algorithm, key);
  return key;
}
