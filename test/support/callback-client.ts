import http, { type IncomingHttpHeaders } from 'node:http';
import { signBody } from '../../src/simulator';
import { WEBHOOK_SECRET } from './system';

/**
 * One POST to the callback, exactly once (the simulator's deliver() retries in the
 * background and answers only the status), with the answer's headers and body.
 */
export interface CallbackAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body, or undefined when it is not JSON. */
  json: { error?: { code?: string; message?: string; field?: string }; status?: string; eventId?: string; dispatched?: boolean } | undefined;
}

export interface PostOptions {
  /** x-hub-signature: a value, null for none, or (default) sha256 HMAC of the raw body with `secret`. */
  signature?: string | null;
  secret?: string;
  /** Default application/json. */
  contentType?: string;
  /** Send without content-length, in chunks of this many bytes (Transfer-Encoding: chunked). */
  chunkBytes?: number;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export function postCallback(url: string, body: unknown, opts: PostOptions = {}): Promise<CallbackAnswer> {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json', ...opts.headers };
  const signature = opts.signature === undefined ? signBody(opts.secret ?? WEBHOOK_SECRET, raw) : opts.signature;
  if (signature !== null) headers['x-hub-signature'] = signature;
  if (opts.chunkBytes === undefined) headers['content-length'] = String(raw.length);

  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers, timeout: opts.timeoutMs ?? 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: CallbackAnswer['json'];
        try {
          json = JSON.parse(text) as CallbackAnswer['json'];
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer from the callback in time')));
    // The server may answer (413) and stop reading before the whole body is written.
    req.on('error', reject);
    if (opts.chunkBytes === undefined) {
      req.end(raw);
      return;
    }
    const step = opts.chunkBytes;
    let offset = 0;
    const writeMore = () => {
      while (offset < raw.length) {
        const chunk = raw.subarray(offset, offset + step);
        offset += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', writeMore);
          return;
        }
      }
      req.end();
    };
    writeMore();
  });
}
