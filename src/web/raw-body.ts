import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {}
export class BodyTimeoutError extends Error {}
/** The bodies being read at once hold their budget (`BodyBytesInFlight`): this one is refused until some finish. */
export class BodiesBusyError extends Error {}

/** How long a source that delivered a signed body keeps its claim on the reserve (BodyBytesInFlight). */
export const PROVEN_SOURCE_MS = 24 * 3_600_000;
/** The most sources remembered as proven (the oldest forgotten first): Talkdesk delivers from a few addresses. */
export const PROVEN_SOURCES_MAX = 1_024;

/** Where a body's bytes were counted. */
export type BodyPool = 'main' | 'reserve';

/**
 * The bytes of callback bodies being read, across requests. Bodies are read whole before the signature can be
 * checked, so without a bound many connections each streaming a body up to the limit would hold gigabytes.
 * Unsigned bodies from a handful of addresses can still hold the whole bound (each within its share): a `reserve`
 * beside it is open only to sources that delivered a signed body lately (`prove`), so Talkdesk's deliveries are
 * still read while a flood holds the rest (an event refused past its redeliveries is lost).
 */
export class BodyBytesInFlight {
  private held = 0;
  private reserved = 0;
  private readonly bySource = new Map<string, number>();
  private readonly proven = new Map<string, number>();
  /** `perSource`: the most one source address may hold, so that one address cannot take the whole bound. */
  constructor(
    readonly limit: number,
    readonly perSource = limit,
    readonly reserve = 0,
    private readonly now: () => number = Date.now,
  ) {}
  take(n: number, source?: string): BodyPool | undefined {
    const mine = source === undefined ? 0 : (this.bySource.get(source) ?? 0) + n;
    if (this.held + n <= this.limit && mine <= this.perSource) {
      if (source !== undefined) this.bySource.set(source, mine);
      this.held += n;
      return 'main';
    }
    if (this.reserved + n > this.reserve || !this.isProven(source)) return undefined;
    this.reserved += n;
    return 'reserve';
  }
  give(n: number, source?: string, pool: BodyPool = 'main'): void {
    if (pool === 'reserve') {
      this.reserved -= n;
      return;
    }
    this.held -= n;
    if (source === undefined || n === 0) return;
    const left = (this.bySource.get(source) ?? 0) - n;
    if (left > 0) this.bySource.set(source, left);
    else this.bySource.delete(source);
  }
  /** `source` delivered a signed body: it may draw on the reserve for PROVEN_SOURCE_MS. */
  prove(source: string | undefined): void {
    if (source === undefined || this.reserve === 0) return;
    this.proven.delete(source); // re-inserted last: the map's order is the forgetting order
    this.proven.set(source, this.now() + PROVEN_SOURCE_MS);
    if (this.proven.size > PROVEN_SOURCES_MAX) this.proven.delete(this.proven.keys().next().value!);
  }
  private isProven(source: string | undefined): boolean {
    const until = source === undefined ? undefined : this.proven.get(source);
    return until !== undefined && until > this.now();
  }
  get bytes(): number {
    return this.held + this.reserved;
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
    const counted: Record<BodyPool, number> = { main: 0, reserve: 0 };
    const timer = setTimeout(() => fail(new BodyTimeoutError()), timeoutMs);
    const cleanup = () => {
      inFlight?.give(counted.main, source, 'main');
      inFlight?.give(counted.reserve, source, 'reserve');
      counted.main = counted.reserve = size = 0;
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
      const pool = inFlight?.take(chunk.length, source);
      if (inFlight && !pool) return fail(new BodiesBusyError());
      if (pool) counted[pool] += chunk.length;
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
