import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {}
export class BodyTimeoutError extends Error {}
/** The bodies being read at once hold their budget (`BodyBytesInFlight`): this one is refused until some finish. */
export class BodiesBusyError extends Error {}

/**
 * The bytes of callback bodies being read, across requests. Bodies are read whole before the signature can be
 * checked, so without a bound many connections each streaming a body up to the limit would hold gigabytes.
 */
export class BodyBytesInFlight {
  private held = 0;
  private readonly bySource = new Map<string, number>();
  /** `perSource`: the most one source address may hold, so that one address cannot take the whole bound. */
  constructor(
    readonly limit: number,
    readonly perSource = limit,
  ) {}
  take(n: number, source?: string): boolean {
    if (this.held + n > this.limit) return false;
    if (source !== undefined) {
      const mine = (this.bySource.get(source) ?? 0) + n;
      if (mine > this.perSource) return false;
      this.bySource.set(source, mine);
    }
    this.held += n;
    return true;
  }
  give(n: number, source?: string): void {
    this.held -= n;
    if (source === undefined || n === 0) return;
    const left = (this.bySource.get(source) ?? 0) - n;
    if (left > 0) this.bySource.set(source, left);
    else this.bySource.delete(source);
  }
  get bytes(): number {
    return this.held;
  }
}

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
export function readRawBody(
  req: IncomingMessage,
  limit: number,
  timeoutMs: number,
  inFlight?: BodyBytesInFlight,
  source?: string,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => fail(new BodyTimeoutError()), timeoutMs);
    const cleanup = () => {
      inFlight?.give(size, source);
      size = 0;
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
      if (size + chunk.length > limit) return fail(new BodyTooLargeError());
      if (inFlight && !inFlight.take(chunk.length, source)) return fail(new BodiesBusyError());
      size += chunk.length;
      chunks.push(chunk);
    }
    function onEnd() {
      const body = Buffer.concat(chunks, size);
      cleanup();
      resolve(body);
    }
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', fail);
  });
}
