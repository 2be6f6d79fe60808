import type { IncomingMessage, ServerResponse } from 'node:http';

/** A handler's answer, written only once any injected delay has passed. */
export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A text body sent as it is (HTML pages of the sign-in); `body` is JSON. */
  text?: { contentType: string; content: string };
}

export class BodyTooLargeError extends Error {}

/** Reads the raw body (bytes as UTF-8) up to `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLargeError(`body over ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendResponse(res: ServerResponse, r: SimResponse): void {
  if (res.writableEnded || res.destroyed) return;
  const payload = r.text ? r.text.content : r.body === undefined ? '' : JSON.stringify(r.body);
  const headers: Record<string, string> = {
    ...(r.text ? { 'content-type': r.text.contentType } : payload ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    'content-length': String(Buffer.byteLength(payload)),
    ...r.headers,
  };
  res.writeHead(r.status, headers);
  res.end(payload);
}

/** `type/subtype` of a Content-Type header, lower-cased; '' when absent. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function tryParseJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false };
  }
}
