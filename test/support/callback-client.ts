import http, { type IncomingHttpHeaders } from 'node:http';
import { signBody } from '../../src/simulator';
import { WEBHOOK_SECRET } from './system';

/**
 * The one HTTP client of the tests and the bench for the callback: one POST (or any
 * method) exactly once, unlike the simulator's deliver(), which retries in the
 * background and answers only the status. Resolves with the whole answer.
 */
export interface CallbackAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body, or undefined when it is not JSON. */
  json:
    { error?: { code?: string; message?: string; field?: string }; status?: string; eventId?: string; dispatched?: boolean } | undefined;
  /** From the request's start to the answer's end. */
  ms: number;
}

export interface PostOptions {
  /** x-hub-signature: a value, null for none, or (default) sha256 HMAC of the raw body with `secret`. */
  signature?: string | null;
  secret?: string;
  /** Default application/json; null sends no content-type (say to set it in `headers`). */
  contentType?: string | null;
  /** Send without content-length, in chunks of this many bytes (Transfer-Encoding: chunked). */
  chunkBytes?: number;
  /** Sent as given (a fuzzer may repeat a header). */
  headers?: Record<string, string | string[]>;
  timeoutMs?: number;
  /** Default POST. A request without a body (`body` undefined) sends no signature. */
  method?: string;
  agent?: http.Agent;
  localAddress?: string;
}

/** `body`: bytes or text as given, anything else as its JSON; undefined for none. */
export function postCallback(url: string, body: unknown, opts: PostOptions = {}): Promise<CallbackAnswer> {
  const started = Date.now();
  const raw =
    body === undefined
      ? undefined
      : Buffer.isBuffer(body)
        ? body
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  const headers: Record<string, string | string[]> = {};
  if (opts.contentType !== null && raw) headers['content-type'] = opts.contentType ?? 'application/json';
  Object.assign(headers, opts.headers);
  const signature = opts.signature === undefined && raw ? signBody(opts.secret ?? WEBHOOK_SECRET, raw) : opts.signature;
  if (typeof signature === 'string') headers['x-hub-signature'] = signature;
  if (raw && opts.chunkBytes === undefined) headers['content-length'] = String(raw.length);

  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'POST', headers, agent: opts.agent, localAddress: opts.localAddress, timeout: opts.timeoutMs ?? 20_000 },
      (res) => {
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
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ms: Date.now() - started });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs ?? 20_000} ms`)));
    // The server may answer (413) and stop reading before the whole body is written.
    req.on('error', reject);
    if (!raw || opts.chunkBytes === undefined) {
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
