import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {}
export class BodyTimeoutError extends Error {}

/** Parses sizes such as `256kb` (the CALLBACK_BODY_LIMIT format). */
export function parseSize(size: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(size.trim());
  if (!m) throw new Error(`not a size: ${size}`);
  const unit = (m[2] ?? 'b').toLowerCase();
  return Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}

/**
 * Reads the raw request bytes (the signature is over them, so nothing may parse
 * first), refusing more than `limit` bytes as soon as they are announced or seen,
 * and giving up on a client that sends too slowly.
 */
export function readRawBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => fail(new BodyTimeoutError()), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', fail);
    };
    function fail(err: Error) {
      cleanup();
      req.resume(); // drain what is left so the connection can carry the error answer
      reject(err);
    }
    function onData(chunk: Buffer) {
      size += chunk.length;
      if (size > limit) return fail(new BodyTooLargeError());
      chunks.push(chunk);
    }
    function onEnd() {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    }
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', fail);
  });
}
